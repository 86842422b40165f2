"""Slack: Block Kit rendering within Slack's limits, config rules, answer classification."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from eventrouter.router.destinations import validate_config
from eventrouter.router.destinations.base import OutcomeKind
from eventrouter.router.destinations.slack_answers import classify_api, classify_webhook
from eventrouter.router.destinations.slack_blocks import (
    MAX_BLOCKS,
    MAX_FIELD_TEXT,
    MAX_HEADER,
    MAX_SECTION_TEXT,
    enforce_limits,
)
from eventrouter.router.destinations.slack_config import SlackConfig
from eventrouter.router.errors import ConfigError
from eventrouter.router.events import Event, new_event_id

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
HOOK = "https://hooks.slack.com/services/T000/B000/XXXXXXXX"


def make_event(payload: dict[str, Any], name: str = "payment:failed") -> Event:
    return Event(id=new_event_id(), name=name, org="acme", env="prod", payload=payload)


def message(payload: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    config = SlackConfig(webhook_url=HOOK, **kwargs)
    return config.message(make_event(payload), NOW)


def blocks_of(kind: str, msg: dict[str, Any]) -> list[dict[str, Any]]:
    return [b for b in msg["blocks"] if b["type"] == kind]


def test_default_message_has_header_text_fields_and_context() -> None:
    msg = message({"message": "card declined <b>", "invoice": "in_1", "amount": 4200, "x": None})
    assert msg["text"] == "[prod] payment:failed: card declined &lt;b&gt;"
    header = blocks_of("header", msg)[0]
    assert header["text"] == {"type": "plain_text", "text": "payment:failed", "emoji": True}
    sections = blocks_of("section", msg)
    assert sections[0]["text"]["text"] == "card declined &lt;b&gt;"
    assert [f["text"] for f in sections[1]["fields"]] == [
        "*invoice*\nin_1",
        "*amount*\n4200",
        "*x*\n-",
    ]
    context = " ".join(e["text"] for e in blocks_of("context", msg)[0]["elements"])
    assert "*env* prod" in context and "<!date^" in context


MENTIONS = "<!channel> <!here|here> <!everyone> <@U012AB3CD> <#C123> <https://evil.example|ok> &"


@pytest.mark.parametrize("key", ["message", "summary", "other"])
def test_payload_text_never_becomes_a_mention_or_link(key: str) -> None:
    """Slack reads <!channel>, <!here>, <@U…> and <url|label> in mrkdwn, the top-level
    ``text`` included; payloads are escaped as Slack documents (&, <, >)."""
    msg = message(
        {key: MENTIONS, "host": "<!here>"},
    )
    texts = [msg["text"]] + [
        node["text"]
        for block in msg["blocks"]
        for node in [block.get("text") or {}, *block.get("fields", []), *block.get("elements", [])]
        if isinstance(node, dict) and "text" in node
    ]
    joined = "\n".join(texts)
    for raw in ("<!channel>", "<!here", "<!everyone>", "<@U", "<#C", "<https://"):
        assert raw not in joined
    assert "&lt;!channel&gt;" in joined and " &amp;" in joined
    assert joined.count("<!date^") == 1  # the one token eventrouter writes itself


def test_long_header_is_cut_visibly_at_150() -> None:
    config = SlackConfig(webhook_url=HOOK)
    msg = config.message(make_event({}, name="n" * 200), NOW)
    text = blocks_of("header", msg)[0]["text"]["text"]
    assert len(text) == MAX_HEADER and text.endswith("…")


def test_long_text_and_fields_are_cut_visibly() -> None:
    msg = message({"message": "m" * 5000, "big": "b" * 5000})
    section_text = blocks_of("section", msg)[0]["text"]["text"]
    assert len(section_text) == MAX_SECTION_TEXT and section_text.endswith("… (truncated)")
    field = blocks_of("section", msg)[1]["fields"][0]["text"]
    assert len(field) == MAX_FIELD_TEXT and field.endswith("… (truncated)")
    assert len(msg["text"]) <= 4000 and msg["text"].endswith("… (truncated)")


def test_more_than_ten_fields_keeps_nine_and_says_how_many_are_hidden() -> None:
    msg = message({f"k{i}": i for i in range(14)})
    fields = blocks_of("section", msg)[0]["fields"]
    assert len(fields) == 10
    assert fields[8]["text"] == "*k8*\n8"
    assert fields[9]["text"] == "_…and 5 more fields_"


def test_more_than_fifty_blocks_from_a_template_are_cut_with_a_note() -> None:
    many = {"text": "x", "blocks": [{"type": "divider"}] * 60}
    limited = enforce_limits(many)
    assert len(limited["blocks"]) == MAX_BLOCKS
    assert limited["blocks"][-1]["elements"][0]["text"] == "_…11 more blocks not shown_"


def test_template_overrides_text_and_blocks_and_limits_still_apply() -> None:
    template = (
        '{"text": "${name}: ${payload.msg}", "blocks": [{"type": "header", '
        '"text": {"type": "plain_text", "text": "${payload.msg}"}}]}'
    )
    msg = message({"msg": "h" * 300}, template=template)
    assert msg["text"].startswith("payment:failed: hhh")
    assert len(msg["blocks"][0]["text"]["text"]) == MAX_HEADER


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ({}, "either --webhook-url or --bot-token"),
        ({"webhook_url": HOOK, "bot_token": "xoxb-1-2"}, "either --webhook-url or --bot-token"),
        ({"bot_token": "xoxb-1-2"}, "needs --channel"),
        ({"webhook_url": HOOK, "channel": "C1"}, "--channel goes with --bot-token"),
        ({"bot_token": "not-a-token", "channel": "C1"}, "xoxb-"),
        ({"webhook_url": "hooks.slack.com/x"}, "not an http(s) URL"),
        ({"webhook_url": HOOK, "template": '{"username": "x"}'}, '"text" and/or "blocks"'),
        ({"webhook_url": HOOK, "template": '["${name}"]'}, '"text" and/or "blocks"'),
        ({"webhook_url": HOOK, "rate_limit": 0}, "rate_limit"),
    ],
)
def test_config_errors(config: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError, match="invalid slack destination") as info:
        validate_config("slack", config)
    assert fragment in str(info.value)


def test_rate_key_is_per_webhook_or_per_token_and_channel() -> None:
    one = SlackConfig(bot_token="xoxb-1", channel="C1")
    assert one.rate_key == SlackConfig(bot_token="xoxb-1", channel="C1").rate_key
    assert one.rate_key != SlackConfig(bot_token="xoxb-1", channel="C2").rate_key
    assert one.rate_key != SlackConfig(webhook_url=HOOK).rate_key
    assert "xoxb" not in one.rate_key


# -- incoming webhook answers (Slack's documented errors) -----------------------------------
@pytest.mark.parametrize(
    ("status", "body", "kind", "fragment"),
    [
        (200, "ok", OutcomeKind.SUCCEEDED, None),
        (200, "<html>login</html>", OutcomeKind.FAILED, "without 'ok'"),
        (400, "invalid_payload", OutcomeKind.FAILED, "invalid_payload"),
        (400, "no_text", OutcomeKind.FAILED, "no_text"),
        (403, "action_prohibited", OutcomeKind.FAILED, "action_prohibited"),
        (404, "channel_not_found", OutcomeKind.FAILED, "channel_not_found"),
        (410, "channel_is_archived", OutcomeKind.FAILED, "channel_is_archived"),
        (429, "rate_limited", OutcomeKind.RETRY, "rate_limited"),
        (500, "rollup_error", OutcomeKind.RETRY, "rollup_error"),
    ],
)
def test_webhook_answers(status: int, body: str, kind: OutcomeKind, fragment: str | None) -> None:
    outcome = classify_webhook(status, {"retry-after": "7"}, body)
    assert outcome.kind is kind
    assert outcome.http_status == status
    assert outcome.response_body == body
    if fragment:
        assert fragment in (outcome.error or "")
    if status == 429:
        assert outcome.retry_after == 7
    assert outcome.disable_destination is (status == 410)


# -- Web API answers -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "code",
    [
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "token_revoked",
        "missing_scope",
        "some_future_error",
    ],
)
def test_api_permanent_errors(code: str) -> None:
    body = f'{{"ok": false, "error": "{code}"}}'
    outcome = classify_api(200, {}, body)
    assert outcome.kind is OutcomeKind.FAILED
    assert code in (outcome.error or "")
    assert outcome.response_body == body


@pytest.mark.parametrize("code", ["rate_limited", "ratelimited", "fatal_error", "internal_error"])
def test_api_retryable_errors(code: str) -> None:
    outcome = classify_api(200, {}, f'{{"ok": false, "error": "{code}"}}')
    assert outcome.kind is OutcomeKind.RETRY
    assert code in (outcome.error or "")


def test_api_success_only_on_ok_true() -> None:
    assert classify_api(200, {}, '{"ok": true, "ts": "1.2"}').kind is OutcomeKind.SUCCEEDED
    assert classify_api(200, {}, "ok").kind is OutcomeKind.FAILED
    assert classify_api(200, {}, '{"ts": "1"}').kind is OutcomeKind.FAILED


def test_api_429_honours_retry_after_and_missing_scope_names_the_scope() -> None:
    limited = classify_api(429, {"retry-after": "30"}, '{"ok": false, "error": "ratelimited"}')
    assert (limited.kind, limited.retry_after, limited.http_status) == (OutcomeKind.RETRY, 30, 429)
    scope = classify_api(200, {}, '{"ok": false, "error": "missing_scope", "needed": "chat:write"}')
    assert "needed: chat:write" in (scope.error or "")
