"""What alert rules add to a delivery, as each kind words it: state changes, digests,
throttled counts (``router.destinations.notice``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from eventrouter.router.destinations.email_message import plain_body, subject
from eventrouter.router.destinations.pagerduty import PagerDutyConfig, build_body
from eventrouter.router.destinations.slack_blocks import default_message
from eventrouter.router.destinations.webhook import WebhookConfig, render_body, request_headers
from eventrouter.router.events import Event

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
DIGEST = {
    "id": "digest-7",
    "key": "checkout",
    "group": {
        "key": "checkout",
        "count": 500,
        "first_at": "2026-12-02T11:59:30Z",
        "last_at": "2026-12-02T12:00:00Z",
        "events": [{"id": f"e{i}", "name": "payment:failed", "payload": {}} for i in range(100)],
    },
}


def event(notice: dict[str, Any] | None) -> Event:
    return Event(
        id="01a2",
        name="payment:failed",
        org="acme",
        env="prod",
        payload={"service": "checkout"},
        published_at=1_767_225_600.0,
        notice=notice,
    )


def test_a_webhook_digest_has_the_group_and_its_own_id() -> None:
    config = WebhookConfig(url="https://example.com/hook")
    body = json.loads(render_body(event(DIGEST), config))
    assert body["id"] == "01a2" and body["group"]["count"] == 500
    assert len(body["group"]["events"]) == 100 and body["key"] == "checkout"
    assert request_headers(event(DIGEST), config, NOW)["webhook-id"] == "digest-7"
    plain = json.loads(render_body(event(None), config))
    assert "group" not in plain and "state" not in plain


def test_slack_and_email_say_n_times_the_name_and_list_some() -> None:
    message = default_message(event(DIGEST), NOW)
    assert message["blocks"][0]["text"]["text"] == "500 × payment:failed [checkout]"
    listed = message["blocks"][1]["text"]["text"]
    assert listed.count("payment:failed e") == 20 and "… and 480 more" in listed
    assert subject(event(DIGEST), None, NOW) == "[prod] 500 × payment:failed [checkout]"
    assert "… and 480 more" in plain_body(event(DIGEST))


def test_pagerduty_resolves_with_the_rules_dedup_key() -> None:
    config = PagerDutyConfig(routing_key="R" * 32)
    key = "eventrouter-rule-3-iris"
    firing = build_body(event({"state": "firing", "key": "iris", "dedup_key": key}), config)
    resolved = build_body(event({"state": "resolved", "key": "iris", "dedup_key": key}), config)
    assert (firing["event_action"], firing["dedup_key"]) == ("trigger", key)
    assert firing["payload"]["summary"] == "[prod] FIRING: payment:failed [iris]"
    assert (resolved["event_action"], resolved["dedup_key"]) == ("resolve", key)


def test_throttled_counts_are_told() -> None:
    message = default_message(event({"throttled": 37}), NOW)
    assert "(+37 throttled since the last notification)" in message["blocks"][0]["text"]["text"]
