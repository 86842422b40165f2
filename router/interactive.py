"""The interactive parts an event's payload may carry, read and checked without I/O.

- ``"approval": {"prompt", "timeout", "on_timeout", "approvers"}``: ask people to approve or
  reject; the answer comes back as an ``approval:*`` event.
- ``"links": [{"text", "url"}, …]``: link buttons (at most 5, http(s) only).
- ``"ack": true``: an Acknowledge button; a click publishes ``alert:acknowledged``.

``publish()`` refuses a malformed ``approval`` (``InvalidEvent``): a request that never
asks would leave its requester waiting. ``links`` and ``ack`` are ordinary payload keys in
many producers' events, so a value that is not a valid link list or boolean just shows no
button. The router, which must store whatever reaches it, treats a malformed part as
absent (``read_interactions(strict=False)``).
The decision events' payloads are built here too, so every path (click, slash command,
timeout) publishes the same shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from eventrouter.router.durations import format_duration, parse_duration

KEYS = frozenset({"approval", "links", "ack"})
"""Payload keys with an interactive meaning."""
MAX_LINKS = 5
MAX_LINK_TEXT = 75
"""Slack's limit for a button's text."""
MAX_URL = 3000
"""Slack's limit for a button's URL."""
MAX_PROMPT = 2000
MAX_APPROVERS = 100
MIN_TIMEOUT_SECONDS = 10.0
MAX_TIMEOUT_SECONDS = 7 * 86400.0
DEFAULT_TIMEOUT = "1h"
_SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,20}")


class Decision(StrEnum):
    """How an approval request ended; ``approval:<decision>`` is the event published."""

    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class ApprovalRequest:
    prompt: str
    timeout_seconds: float
    on_timeout: Decision
    """``approved`` or ``rejected``: what an expiry means, carried in ``approval:expired``."""
    approvers: tuple[str, ...] | None
    """Slack user ids allowed to decide; ``None``: anyone who can see the message."""

    @property
    def timeout_text(self) -> str:
        return format_duration(self.timeout_seconds)

    def may_decide(self, user_id: str) -> bool:
        return self.approvers is None or user_id in self.approvers


@dataclass(frozen=True, slots=True)
class Link:
    text: str
    url: str


@dataclass(frozen=True, slots=True)
class Interactions:
    approval: ApprovalRequest | None = None
    links: tuple[Link, ...] = ()
    ack: bool = False

    @property
    def any(self) -> bool:
        return self.approval is not None or bool(self.links) or self.ack


NONE = Interactions()


def read_interactions(payload: Mapping[str, Any], *, strict: bool = True) -> Interactions:
    """The payload's interactive parts. ``strict``: a malformed part raises ``ValueError``
    (a one-line message naming the field); otherwise it is left out."""
    if not (KEYS & payload.keys()):
        return NONE
    parts: dict[str, Any] = {}
    for key, reader in (("approval", _approval), ("links", _links), ("ack", _ack)):
        if key not in payload:
            continue
        try:
            parts[key] = reader(payload[key])
        except ValueError:
            if strict:
                raise
    return Interactions(**parts)


def check_approval(value: object) -> ApprovalRequest:
    """The approval request ``value`` describes; ``ValueError`` naming what is wrong."""
    return _approval(value)


def _approval(value: object) -> ApprovalRequest:
    if not isinstance(value, dict):
        raise ValueError('"approval" must be an object with at least "prompt"')
    unknown = set(value) - {"prompt", "timeout", "on_timeout", "approvers"}
    if unknown:
        raise ValueError(
            f'"approval" has unknown field(s) {", ".join(sorted(unknown))}; '
            "use prompt, timeout, on_timeout, approvers"
        )
    prompt = value.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip() or len(prompt) > MAX_PROMPT:
        raise ValueError(f'"approval.prompt" must be text of 1-{MAX_PROMPT} characters')
    timeout = value.get("timeout", DEFAULT_TIMEOUT)
    try:
        seconds = parse_duration(str(timeout)) if isinstance(timeout, str | int) else -1.0
    except ValueError:
        seconds = -1.0
    if not MIN_TIMEOUT_SECONDS <= seconds <= MAX_TIMEOUT_SECONDS:
        raise ValueError(
            f'"approval.timeout" {timeout!r} is invalid; use a duration from 10s to 7d, e.g. "10m"'
        )
    on_timeout = value.get("on_timeout", "reject")
    if on_timeout not in ("reject", "approve"):
        raise ValueError(f'"approval.on_timeout" {on_timeout!r} is invalid; use reject or approve')
    approvers = value.get("approvers")
    if approvers is not None:
        if (
            not isinstance(approvers, list)
            or not 1 <= len(approvers) <= MAX_APPROVERS
            or not all(isinstance(a, str) and _SLACK_USER.fullmatch(a) for a in approvers)
        ):
            raise ValueError(
                f'"approval.approvers" must list 1-{MAX_APPROVERS} Slack user ids, '
                'e.g. ["U012AB3CD"] (profile → ⋮ → Copy member ID)'
            )
        approvers = tuple(approvers)
    decision = Decision.APPROVED if on_timeout == "approve" else Decision.REJECTED
    return ApprovalRequest(prompt.strip(), seconds, decision, approvers)


def _links(value: object) -> tuple[Link, ...]:
    if not isinstance(value, list) or len(value) > MAX_LINKS:
        raise ValueError(f'"links" must be a list of at most {MAX_LINKS} {{"text", "url"}} objects')
    links = []
    for index, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"text", "url"}:
            raise ValueError(f'"links[{index}]" must be an object with exactly "text" and "url"')
        text, url = item["text"], item["url"]
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_LINK_TEXT:
            raise ValueError(f'"links[{index}].text" must be text of 1-{MAX_LINK_TEXT} characters')
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f'"links[{index}].url" must be an http(s) URL')
        if len(url) > MAX_URL:
            raise ValueError(f'"links[{index}].url" is longer than {MAX_URL} characters')
        links.append(Link(text.strip(), url))
    return tuple(links)


def _ack(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError('"ack" must be true or false')
    return value


def without_interactions(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The request's payload as carried by its decision event: ``approval`` removed."""
    return {key: value for key, value in payload.items() if key != "approval"}


def iso(at: datetime) -> str:
    return at.isoformat(timespec="seconds").replace("+00:00", "Z")


def decision_payload(
    *,
    request_event_id: str,
    request_name: str,
    request_payload: Mapping[str, Any],
    decision: Decision,
    decided_by: Mapping[str, str] | None,
    decided_at: datetime,
    on_timeout: Decision | None = None,
) -> dict[str, Any]:
    """The payload of ``approval:<decision>``: who decided what, and the request's payload
    (minus ``approval``) so a subscriber needs nothing else to act on it."""
    payload: dict[str, Any] = {
        **without_interactions(request_payload),
        "request_event_id": request_event_id,
        "request_name": request_name,
        "decision": decision.value,
        "decided_by": dict(decided_by) if decided_by else None,
        "decided_at": iso(decided_at),
    }
    if decision is Decision.EXPIRED and on_timeout is not None:
        payload["on_timeout"] = on_timeout.value
    return payload


@dataclass(frozen=True, slots=True)
class Resolution:
    """What people did with a message's buttons so far, shown in place of them."""

    decision: Decision | None = None
    decided_by: str | None = None
    """Slack user id of who decided (``None`` for an expiry)."""
    decided_at: datetime | None = None
    acked_by: str | None = None
    acked_at: datetime | None = None


def clock(at: datetime) -> str:
    """``12:03 UTC``: how a decision's time is shown in Slack."""
    return at.strftime("%H:%M UTC")


def resolution_lines(interactions: Interactions, resolution: Resolution) -> list[str]:
    """Slack mrkdwn lines saying what was decided (a thread reply says the same)."""
    lines = []
    approval = interactions.approval
    if approval is not None and resolution.decision is not None and resolution.decided_at:
        at = clock(resolution.decided_at)
        if resolution.decision is Decision.EXPIRED:
            lines.append(
                f":hourglass: *Expired* at {at} with no answer "
                f"(after {approval.timeout_text}; treated as {approval.on_timeout.value})"
            )
        else:
            mark = ":white_check_mark:" if resolution.decision is Decision.APPROVED else ":x:"
            word = resolution.decision.value.capitalize()
            lines.append(f"{mark} *{word}* by <@{resolution.decided_by}> at {at}")
    if interactions.ack and resolution.acked_by and resolution.acked_at:
        lines.append(
            f":eyes: *Acknowledged* by <@{resolution.acked_by}> at {clock(resolution.acked_at)}"
        )
    return lines
