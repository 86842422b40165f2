"""Slack interactivity without I/O: the payload's interactive parts, Slack's request
signature (checked against slack_sdk's own verifier), click and command parsing, and the
Block Kit of buttons and decisions (validated with slack_sdk's models)."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.signature import SignatureVerifier

from eventrouter.router.destinations.slack_answers import message_receipt
from eventrouter.router.destinations.slack_config import SlackConfig
from eventrouter.router.destinations.slack_requests import (
    BadRequest,
    parse_clicks,
    parse_command,
    signature,
    split_command,
    verify,
)
from eventrouter.router.errors import InvalidEvent
from eventrouter.router.events import Event, build_envelope, new_event_id
from eventrouter.router.interactive import (
    Decision,
    Resolution,
    decision_payload,
    read_interactions,
)

SECRET = "8f742231b10e8888abcd99edabcd00d1"
TOKEN = "xoxb-1111-2222-abcdefghijkl"
NOW = datetime(2026, 12, 2, 12, 3, tzinfo=UTC)
APPROVAL = {"prompt": "Scale payment-api to 5 replicas", "timeout": "10m", "approvers": ["U1AB"]}


def interactive(**kwargs: Any) -> SlackConfig:
    return SlackConfig(bot_token=TOKEN, channel="C1", signing_secret=SECRET, **kwargs)


def event(payload: dict[str, Any]) -> Event:
    return Event(id=new_event_id(), name="deploy:scale", org="acme", env="prod", payload=payload)


# -- the payload's interactive parts ---------------------------------------------------------
def test_approval_links_and_ack_are_read() -> None:
    parts = read_interactions(
        {
            "approval": APPROVAL,
            "links": [{"text": "View", "url": "https://x.example/1"}],
            "ack": True,
        }
    )
    assert parts.approval is not None
    assert parts.approval.timeout_seconds == 600 and parts.approval.approvers == ("U1AB",)
    assert parts.approval.on_timeout is Decision.REJECTED
    assert [link.url for link in parts.links] == ["https://x.example/1"] and parts.ack


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"approval": "yes"}, '"approval" must be an object'),
        ({"approval": {"prompt": ""}}, '"approval.prompt"'),
        ({"approval": {"prompt": "p", "timeout": "1s"}}, '"approval.timeout"'),
        ({"approval": {"prompt": "p", "timeout": "8d"}}, '"approval.timeout"'),
        ({"approval": {"prompt": "p", "on_timeout": "maybe"}}, '"approval.on_timeout"'),
        ({"approval": {"prompt": "p", "approvers": ["alice"]}}, '"approval.approvers"'),
        ({"approval": {"prompt": "p", "who": 1}}, "unknown field(s) who"),
    ],
)
def test_publish_refuses_a_malformed_approval_in_one_line(
    payload: dict[str, Any], words: str
) -> None:
    with pytest.raises(InvalidEvent) as caught:
        build_envelope("deploy:scale", payload, org="acme", env=None, idempotency_key=None)
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert read_interactions(payload, strict=False).approval is None


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"links": [{"text": "x", "url": "javascript:alert(1)"}]}, '"links[0].url"'),
        ({"links": [{"text": "x", "url": "https://a.example"}] * 6}, "at most 5"),
        ({"links": ["https://a.example"]}, '"links[0]"'),
        ({"ack": "yes"}, '"ack" must be true or false'),
    ],
)
def test_links_and_ack_that_mean_something_else_show_no_button(
    payload: dict[str, Any], words: str
) -> None:
    build_envelope("deploy:scale", payload, org="acme", env=None, idempotency_key=None)
    assert read_interactions(payload, strict=False) == read_interactions({})
    with pytest.raises(ValueError, match=re.escape(words)):
        read_interactions(payload)


def test_decision_payload_carries_the_request_minus_approval() -> None:
    body = decision_payload(
        request_event_id="e1",
        request_name="deploy:scale",
        request_payload={"service": "payment-api", "approval": APPROVAL, "decision": "spoof"},
        decision=Decision.APPROVED,
        decided_by={"id": "U1AB", "name": "alice"},
        decided_at=NOW,
    )
    assert body == {
        "service": "payment-api",
        "request_event_id": "e1",
        "request_name": "deploy:scale",
        "decision": "approved",
        "decided_by": {"id": "U1AB", "name": "alice"},
        "decided_at": "2026-12-02T12:03:00Z",
    }


# -- signatures ----------------------------------------------------------------------------
def test_signature_is_slacks_v0_hmac() -> None:
    body = b"payload=%7B%7D"
    ts = str(int(time.time()))
    ours = signature(SECRET, ts, body)
    verifier = SignatureVerifier(SECRET)
    assert ours == verifier.generate_signature(timestamp=ts, body=body)
    assert verifier.is_valid(body, ts, ours)
    assert (
        verify(
            ["other" * 8, SECRET], timestamp=ts, signature_header=ours, body=body, now=time.time()
        )
        == SECRET
    )


@pytest.mark.parametrize(
    ("ts_offset", "sig", "reason"),
    [
        (-301, None, "more than 5 minutes"),
        (301, None, "more than 5 minutes"),
        (0, "v0=" + "0" * 64, "does not match"),
        (0, "", "missing"),
    ],
)
def test_bad_or_stale_signatures_are_refused(ts_offset: int, sig: str | None, reason: str) -> None:
    now = time.time()
    ts = str(int(now) + ts_offset)
    body = b"payload=%7B%7D"
    header = signature(SECRET, ts, body) if sig is None else sig
    with pytest.raises(BadRequest, match=reason):
        verify([SECRET], timestamp=ts, signature_header=header, body=body, now=now)


def test_a_tampered_body_does_not_verify() -> None:
    ts = str(int(time.time()))
    header = signature(SECRET, ts, b"payload=a")
    with pytest.raises(BadRequest, match="does not match"):
        verify([SECRET], timestamp=ts, signature_header=header, body=b"payload=b", now=time.time())


# -- what Slack sends ----------------------------------------------------------------------
def block_actions(action_id: str, value: str) -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": "U1AB", "username": "alice", "name": "alice", "team_id": "T1"},
        "team": {"id": "T1", "domain": "acme"},
        "container": {"type": "message", "message_ts": "1.000100", "channel_id": "C1"},
        "channel": {"id": "C1", "name": "ops"},
        "response_url": "https://hooks.slack.com/actions/T1/1/abc",
        "actions": [
            {
                "action_id": action_id,
                "block_id": "eventrouter",
                "value": value,
                "type": "button",
                "action_ts": "1.2",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_a_click_is_read_from_the_form_payload() -> None:
    [click] = parse_clicks(block_actions("eventrouter_approve", "e1"))
    assert (click.action, click.reference, click.user_id, click.user_name) == (
        "approve",
        "e1",
        "U1AB",
        "alice",
    )
    assert (click.channel, click.message_ts) == ("C1", "1.000100")
    assert parse_clicks(block_actions("someone_elses", "e1")) == []
    with pytest.raises(BadRequest, match="payload=<json>"):
        parse_clicks(b"text=hello")


def test_a_slash_command_and_its_quoted_words() -> None:
    body = urlencode(
        {
            "command": "/eventrouter",
            "text": "resolve e1 “disk replaced”",
            "user_id": "U1AB",
            "user_name": "alice",
            "channel_id": "C1",
            "team_id": "T1",
            "response_url": "https://hooks.slack.com/commands/1",
        }
    ).encode()
    command = parse_command(body)
    assert split_command(command.text) == ["resolve", "e1", "disk replaced"]
    with pytest.raises(BadRequest, match="cannot read"):
        split_command('resolve e1 "open')


# -- blocks --------------------------------------------------------------------------------
def test_buttons_are_valid_block_kit_and_carry_only_the_event_id() -> None:
    ev = event(
        {
            "service": "payment-api",
            "approval": APPROVAL,
            "ack": True,
            "links": [{"text": "View in InfraSage", "url": "https://infrasage.example/r/1"}],
        }
    )
    msg = interactive().message(ev, NOW)
    for block in msg["blocks"]:
        assert Block.parse(block) is not None
        Block.parse(block).validate_json()  # type: ignore[union-attr]
    [actions] = [b for b in msg["blocks"] if b["type"] == "actions"]
    ids = [e["action_id"] for e in actions["elements"]]
    assert ids == [
        "eventrouter_approve",
        "eventrouter_reject",
        "eventrouter_ack",
        "eventrouter_link_0",
    ]
    assert {e["value"] for e in actions["elements"]} == {ev.id}
    assert actions["elements"][3]["url"] == "https://infrasage.example/r/1"
    text = json.dumps(msg)
    assert "Scale payment-api to 5 replicas" in text and "<@U1AB>" in text


def test_a_decision_replaces_the_buttons_it_answers() -> None:
    ev = event({"approval": APPROVAL, "links": [{"text": "View", "url": "https://x.example"}]})
    done = Resolution(decision=Decision.APPROVED, decided_by="U1AB", decided_at=NOW)
    msg = interactive().message(ev, NOW, done)
    [actions] = [b for b in msg["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == ["eventrouter_link_0"]
    assert (
        msg["blocks"][-1]["text"]["text"] == ":white_check_mark: *Approved* by <@U1AB> at 12:03 UTC"
    )
    expired = Resolution(decision=Decision.EXPIRED, decided_at=NOW)
    last = interactive().message(ev, NOW, expired)["blocks"][-1]["text"]["text"]
    assert "*Expired* at 12:03 UTC" in last and "treated as rejected" in last


def test_buttons_only_on_interactive_destinations_and_room_is_kept_for_them() -> None:
    ev = event({"approval": APPROVAL, **{f"k{i}": i for i in range(200)}})
    plain = SlackConfig(bot_token=TOKEN, channel="C1").message(ev, NOW)
    assert not [b for b in plain["blocks"] if b["type"] == "actions"]
    template = '{"blocks": [' + ",".join(['{"type": "divider"}'] * 60) + "]}"
    msg = interactive(template=template).message(ev, NOW)
    assert len(msg["blocks"]) <= 50 and msg["blocks"][-1]["type"] == "actions"


def test_signing_secret_rules() -> None:
    with pytest.raises(ValueError, match="needs --bot-token"):
        SlackConfig(webhook_url="https://hooks.slack.com/services/T/B/X", signing_secret=SECRET)
    with pytest.raises(ValueError, match="Signing Secret"):
        SlackConfig(bot_token=TOKEN, channel="C1", signing_secret="not a secret!")


def test_receipt_comes_from_the_whole_answer() -> None:
    answer = json.dumps(
        {"ok": True, "channel": "C1", "ts": "1.000100", "message": {"x": "y" * 9000}}
    )
    assert message_receipt(answer) == "C1 1.000100"
    assert message_receipt("not json") is None
