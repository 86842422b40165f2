"""How every kind words what alert rules add to an event (``Event.notice``): a state
change ("RESOLVED"), a digest ("37 × payment:failed"), a throttled count.

Pure text, so the webhook, Slack, PagerDuty and email say the same thing.
"""

from __future__ import annotations

from typing import Any

from eventrouter.router.events import Event

LISTED_IN_TEXT = 20
"""Digest events listed in a chat message or an email (the webhook gets up to 100)."""


def digest(event: Event) -> dict[str, Any] | None:
    """The digest carried by the delivery (``group`` or ``held``), if any."""
    notice = event.notice or {}
    found = notice.get("group") or notice.get("held")
    return found if isinstance(found, dict) else None


def headline(event: Event) -> str:
    """``event.name``, or what the rules make of it: ``RESOLVED: …``, ``37 × …``."""
    notice = event.notice or {}
    text = event.name
    bundle = digest(event)
    if bundle is not None:
        count = bundle.get("count", 1)
        text = f"{count} × {event.name}"
        if "held" in notice:
            text += " (held during quiet hours)"
    key = notice.get("key")
    if key:
        text += f" [{key}]"
    if notice.get("state") == "resolved":
        text = f"RESOLVED: {text}"
    elif notice.get("state") == "firing":
        text = f"FIRING: {text}"
    throttled = notice.get("throttled")
    if throttled:
        text += f" (+{throttled} throttled since the last notification)"
    return text


def digest_lines(event: Event, limit: int = LISTED_IN_TEXT) -> list[str]:
    """One line per listed event of a digest (``name id``), and how many are not shown."""
    bundle = digest(event)
    if bundle is None:
        return []
    listed = [e for e in bundle.get("events", []) if isinstance(e, dict)]
    lines = [f"{e.get('name', '?')} {e.get('id', '?')}" for e in listed[:limit]]
    rest = int(bundle.get("count", len(listed))) - len(lines)
    if rest > 0:
        lines.append(f"… and {rest} more")
    return lines


def webhook_fields(event: Event) -> dict[str, Any]:
    """What a webhook's default body adds: ``state``, ``key``, ``throttled``, ``group`` /
    ``held`` as the rules set them; nothing for a plain delivery."""
    notice = event.notice or {}
    return {k: notice[k] for k in ("state", "key", "throttled", "group", "held") if k in notice}


def message_id(event: Event) -> str:
    """The id receivers deduplicate on: a digest's own, else the event's."""
    notice_id = (event.notice or {}).get("id")
    return notice_id if isinstance(notice_id, str) else event.id
