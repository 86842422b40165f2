"""PagerDuty Events API v2 bodies and answers (pure)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from eventrouter.router.destinations import validate_config
from eventrouter.router.destinations.base import OutcomeKind
from eventrouter.router.destinations.pagerduty import (
    PagerDutyConfig,
    build_body,
    classify,
    encode,
)
from eventrouter.router.errors import ConfigError
from eventrouter.router.events import Event, new_event_id

KEY = "R0123456789abcdef0123456789ABCDE"[:32]


def make_event(payload: dict[str, Any], env: str | None = "prod") -> Event:
    return Event(
        id=new_event_id(),
        name="payment:failed",
        org="acme",
        env=env,
        payload=payload,
        published_at=1_767_225_600.25,
    )


def config(**kwargs: Any) -> PagerDutyConfig:
    return PagerDutyConfig(routing_key=KEY, **kwargs)


def test_trigger_body() -> None:
    event = make_event({"message": "card declined", "invoice": "in_1"})
    body = build_body(event, config())
    assert body == {
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": event.id,
        "payload": {
            "summary": "[prod] payment:failed: card declined",
            "source": "eventrouter/acme/prod",
            "severity": "error",
            "timestamp": "2026-01-01T00:00:00.250Z",
            "custom_details": {"message": "card declined", "invoice": "in_1"},
        },
        "client": "eventrouter",
    }


def test_payload_can_set_severity_source_and_dedup_key() -> None:
    event = make_event({"severity": "critical", "source": "db-1", "dedup_key": "disk:db-1"})
    body = build_body(event, config(severity="warning", source="fallback"))
    assert body["dedup_key"] == "disk:db-1"
    assert body["payload"]["severity"] == "critical"
    assert body["payload"]["source"] == "db-1"
    odd = build_body(make_event({"severity": "sev1"}), config(severity="warning"))
    assert odd["payload"]["severity"] == "warning"


@pytest.mark.parametrize("action", ["acknowledge", "resolve"])
def test_acknowledge_and_resolve_reuse_the_dedup_key(action: str) -> None:
    event = make_event({"event_action": action, "dedup_key": "disk:db-1"})
    assert build_body(event, config()) == {
        "routing_key": KEY,
        "event_action": action,
        "dedup_key": "disk:db-1",
    }


def test_configurable_action_field_and_unknown_actions_are_refused() -> None:
    event = make_event({"state": "resolve"})
    assert build_body(event, config(action_field="state"))["event_action"] == "resolve"
    with pytest.raises(ValueError, match=r"'resolved'.*trigger, acknowledge, resolve"):
        build_body(make_event({"event_action": "resolved"}), config())


def test_summary_is_cut_at_1024_and_long_dedup_keys_are_hashed() -> None:
    event = make_event({"summary": "s" * 2000, "dedup_key": "k" * 300})
    body = build_body(event, config())
    assert len(body["payload"]["summary"]) == 1024
    assert body["payload"]["summary"].endswith("… (truncated)")
    assert len(body["dedup_key"]) == 64
    assert build_body(event, config())["dedup_key"] == body["dedup_key"]


def test_custom_details_are_dropped_first_when_the_body_is_too_big() -> None:
    event = make_event({"blob": "x" * 5000})
    body = build_body(event, config(), max_bytes=2000)
    assert "blob" not in body["payload"]["custom_details"]
    assert "dropped" in body["payload"]["custom_details"]["note"]
    assert len(encode(body)) <= 2000


@pytest.mark.parametrize(
    ("cfg", "fragment"),
    [
        ({}, "routing_key: Field required"),
        ({"routing_key": "short"}, "32-character Integration Key"),
        ({"routing_key": KEY, "severity": "high"}, "severity"),
        ({"routing_key": KEY, "url": "events.pagerduty.com"}, "not an http(s) URL"),
        ({"routing_key": KEY, "url": "https://x.example/", "region": "eu"}, "not both"),
    ],
)
def test_config_errors(cfg: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError, match="invalid pagerduty destination") as info:
        validate_config("pagerduty", cfg)
    assert fragment in str(info.value)


def test_endpoints() -> None:
    assert config().endpoint == "https://events.pagerduty.com/v2/enqueue"
    assert config(region="eu").endpoint == "https://events.eu.pagerduty.com/v2/enqueue"
    assert config(url="http://127.0.0.1:9/v2/enqueue").endpoint == "http://127.0.0.1:9/v2/enqueue"


def test_answers() -> None:
    accepted = json.dumps({"status": "success", "message": "Event processed", "dedup_key": "k1"})
    ok = classify(202, {}, accepted)
    assert (ok.kind, ok.http_status, ok.response_body) == (OutcomeKind.SUCCEEDED, 202, accepted)
    invalid = json.dumps(
        {
            "status": "invalid event",
            "message": "Event object is invalid",
            "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"],
        }
    )
    bad = classify(400, {}, invalid)
    assert bad.kind is OutcomeKind.FAILED
    assert bad.error == (
        "PagerDuty rejected the event: Length of 'routing_key' is incorrect "
        "(should be 32 characters)"
    )
    assert classify(429, {}, "").kind is OutcomeKind.RETRY
    assert classify(502, {}, "").kind is OutcomeKind.RETRY
    assert classify(403, {}, "").kind is OutcomeKind.FAILED
