"""What Slack sends us: signed requests carrying a click (``block_actions``) or a slash
command, read without I/O.

Slack signs every request with the app's signing secret: ``X-Slack-Signature`` is ``v0=``
and the hex HMAC-SHA256 of ``v0:{X-Slack-Request-Timestamp}:{raw body}``. A request is
genuine if that matches (compared in constant time) for one of our secrets and its
timestamp is within five minutes of now, which bounds how long a captured request can be
replayed. Nothing in a request is read before it is verified.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shlex
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from eventrouter.router.destinations.slack_blocks import ACTION_PREFIX

VERSION = "v0"
MAX_SKEW_SECONDS = 300
MAX_BODY_BYTES = 64 * 1024
"""Larger than any click or command Slack sends; a bigger body is refused unread."""


_TYPOGRAPHIC_QUOTES = {0x201C: '"', 0x201D: '"', 0x2018: "'", 0x2019: "'"}


class BadRequest(ValueError):
    """A request that is not a genuine, readable Slack request; the message says why."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    base = f"{VERSION}:{timestamp}:".encode() + body
    return f"{VERSION}=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def verify(
    secrets: Iterable[str],
    *,
    timestamp: str | None,
    signature_header: str | None,
    body: bytes,
    now: float,
) -> str:
    """The secret that signed ``body``; ``BadRequest`` if none did or the timestamp is stale."""
    if not timestamp or not signature_header:
        raise BadRequest("missing X-Slack-Request-Timestamp or X-Slack-Signature")
    try:
        at = int(timestamp)
    except ValueError:
        raise BadRequest("X-Slack-Request-Timestamp is not a number") from None
    if abs(now - at) > MAX_SKEW_SECONDS:
        raise BadRequest("X-Slack-Request-Timestamp is more than 5 minutes from now")
    matched = None
    for secret in secrets:
        # Every secret is compared (no early exit), each in constant time.
        if hmac.compare_digest(signature(secret, timestamp, body), signature_header):
            matched = secret
    if matched is None:
        raise BadRequest("X-Slack-Signature does not match")
    return matched


@dataclass(frozen=True, slots=True)
class Click:
    """One button click (``block_actions``) on one of our buttons."""

    action: str
    """``approve``, ``reject``, ``ack`` or ``link_N`` (link buttons only open their URL)."""
    reference: str
    """The button's value: the event id the message shows. A reference, never trusted."""
    user_id: str
    user_name: str
    channel: str | None
    message_ts: str | None
    response_url: str | None
    team_id: str | None


@dataclass(frozen=True, slots=True)
class Command:
    """A slash command (``/eventrouter ack ID``)."""

    command: str
    text: str
    user_id: str
    user_name: str
    channel: str | None
    response_url: str | None
    team_id: str | None


def _form(body: bytes) -> dict[str, str]:
    if len(body) > MAX_BODY_BYTES:
        raise BadRequest(f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        fields = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise BadRequest("body is not UTF-8 form data") from None
    return {key: values[0] for key, values in fields.items()}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _object(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    return value if isinstance(value, dict) else {}


def parse_clicks(body: bytes) -> list[Click]:
    """Our buttons' clicks in an interaction payload (``payload=<json>``); other
    interaction types and other apps' actions give none."""
    raw = _form(body).get("payload")
    if raw is None:
        raise BadRequest("no payload field; Slack sends interactions as payload=<json>")
    try:
        payload = json.loads(raw)
    except ValueError:
        raise BadRequest("payload is not JSON") from None
    if not isinstance(payload, dict) or payload.get("type") != "block_actions":
        return []
    user, container, channel, team = (
        _object(payload, key) for key in ("user", "container", "channel", "team")
    )
    user_id = _str(user.get("id"))
    if user_id is None:
        raise BadRequest("payload has no user.id")
    name = _str(user.get("username")) or _str(user.get("name")) or user_id
    clicks = []
    for action in payload.get("actions") or []:
        if not isinstance(action, dict):
            continue
        action_id, value = _str(action.get("action_id")), _str(action.get("value"))
        if action_id is None or not action_id.startswith(ACTION_PREFIX) or value is None:
            continue
        clicks.append(
            Click(
                action=action_id.removeprefix(ACTION_PREFIX),
                reference=value,
                user_id=user_id,
                user_name=name,
                channel=_str(container.get("channel_id")) or _str(channel.get("id")),
                message_ts=_str(container.get("message_ts")),
                response_url=_str(payload.get("response_url")),
                team_id=_str(team.get("id")),
            )
        )
    return clicks


def parse_command(body: bytes) -> Command:
    form = _form(body)
    user_id = _str(form.get("user_id"))
    if user_id is None or not _str(form.get("command")):
        raise BadRequest("not a slash command: no command or user_id")
    return Command(
        command=form["command"],
        text=form.get("text", ""),
        user_id=user_id,
        user_name=_str(form.get("user_name")) or user_id,
        channel=_str(form.get("channel_id")),
        response_url=_str(form.get("response_url")),
        team_id=_str(form.get("team_id")),
    )


def split_command(text: str) -> list[str]:
    """The words of a command's text, quotes honoured (``resolve ID "disk replaced"``);
    ``BadRequest`` for unbalanced quotes."""
    # Slack clients may turn typed quotes into typographic ones.
    plain = text.translate(_TYPOGRAPHIC_QUOTES)
    try:
        return shlex.split(plain)
    except ValueError as exc:
        raise BadRequest(f"cannot read the command: {exc}") from None
