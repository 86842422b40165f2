"""What Slack's answers mean: success is what Slack documents, nothing less.

An incoming webhook answers HTTP 200 with the body ``ok``; the Web API answers JSON with
``"ok": true`` (errors come as HTTP 200 with ``"ok": false`` and a code). Every failure is
recorded with Slack's own code, and a hint for the codes people can fix.
"""

from __future__ import annotations

import json
import re
from typing import Any

from eventrouter.router.destinations.base import Outcome
from eventrouter.router.destinations.classify import (
    classify_http,
    describe_status,
    parse_retry_after,
)

_CODE = re.compile(r"[a-z][a-z0-9_]*")

RETRYABLE_API_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "fatal_error",
        "internal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
    }
)
"""``ok: false`` codes that mean "try again later"; every other code is permanent."""

HINTS = {
    "channel_not_found": "check --channel (use the channel ID, e.g. C0123456789) and that "
    "the app can see it",
    "not_in_channel": "invite the app to the channel (/invite @your-app)",
    "is_archived": "the channel is archived; unarchive it or pick another --channel",
    "channel_is_archived": "the channel is archived; unarchive it or use another webhook",
    "invalid_auth": "the bot token is not valid; set a new --bot-token",
    "not_authed": "no valid bot token was accepted; set a new --bot-token",
    "token_revoked": "the bot token was revoked; reinstall the app and set the new token",
    "account_inactive": "the token belongs to a deleted user or workspace",
    "missing_scope": "the token lacks a scope; add chat:write and reinstall the app",
    "action_prohibited": "the workspace restricts posting through this webhook",
    "no_service": "the webhook was disabled or removed; create a new one",
    "invalid_token": "the webhook was disabled or removed; create a new one",
    "invalid_payload": "Slack could not read the message; check the --template",
    "invalid_blocks": "Slack refused the blocks; check the --template",
    "no_text": "the message had no text; check the --template",
}


def _code(body: str) -> str | None:
    word = body.strip()
    return word if _CODE.fullmatch(word) else None


def _explain(code: str) -> str:
    hint = HINTS.get(code)
    return f"{code} ({hint})" if hint else code


def classify_webhook(status: int, headers: Any, body: str) -> Outcome:
    """An incoming webhook's answer: 200 + ``ok`` only is success."""
    code = _code(body)
    if status == 200:
        if body.strip() == "ok":
            return Outcome.succeeded(200, body)
        return Outcome.failed(
            "Slack answered HTTP 200 without 'ok' (is this a Slack webhook URL?)",
            http_status=200,
            response_body=body,
        )
    if status == 429 or status >= 500:
        return Outcome.retry(
            f"Slack: {code or 'error'} ({describe_status(status)})",
            http_status=status,
            response_body=body,
            retry_after=parse_retry_after(headers.get("retry-after")),
        )
    if 400 <= status < 500:
        return Outcome.failed(
            f"Slack rejected the message: {_explain(code) if code else describe_status(status)}"
            f" ({describe_status(status)})",
            http_status=status,
            response_body=body,
            disable_destination=status == 410,
        )
    return classify_http(status, headers, body)


def classify_api(status: int, headers: Any, body: str) -> Outcome:
    """A Web API answer: JSON ``ok: true`` only is success; ``ok: false`` codes classified."""
    if status == 429 or status >= 500:
        try:
            code = json.loads(body).get("error")
        except (ValueError, AttributeError):
            code = None
        return Outcome.retry(
            f"Slack API: {code or 'error'} ({describe_status(status)})",
            http_status=status,
            response_body=body,
            retry_after=parse_retry_after(headers.get("retry-after")),
        )
    if status != 200:
        return classify_http(status, headers, body)
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or "ok" not in answer:
        return Outcome.failed(
            "Slack API answered HTTP 200 without a JSON 'ok' field (check --api-url)",
            http_status=200,
            response_body=body,
        )
    if answer["ok"] is True:
        return Outcome.succeeded(200, body)
    code = str(answer.get("error") or "unknown_error")
    if code in RETRYABLE_API_ERRORS:
        return Outcome.retry(
            f"Slack API error: {code}",
            http_status=200,
            response_body=body,
            retry_after=parse_retry_after(headers.get("retry-after")),
        )
    detail = _explain(code)
    if code == "missing_scope" and answer.get("needed"):
        detail += f"; needed: {answer['needed']}"
    return Outcome.failed(f"Slack API error: {detail}", http_status=200, response_body=body)


def message_receipt(answer: str) -> str | None:
    """``"<channel> <ts>"`` of the message ``chat.postMessage`` made (from the whole answer,
    not the stored excerpt, which may be cut before them)."""
    try:
        body = json.loads(answer)
    except ValueError:
        return None
    channel, ts = (body.get("channel"), body.get("ts")) if isinstance(body, dict) else (0, 0)
    if isinstance(channel, str) and isinstance(ts, str) and channel and ts:
        return f"{channel} {ts}"
    return None
