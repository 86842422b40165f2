"""Requests from Slack as stored: which destinations may sign them, which events a click or
command may name, each click recorded, and an event's first resolution (``control.slack``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, text

from eventrouter.router.db.engine import pg_text

# Interactive Slack destinations (those with a signing secret), across orgs: a request
# from Slack names no org, so its signature is checked against each of their secrets.
# Disabled ones too: a destination disabled after Slack failed for a day still has
# messages waiting for an answer, and their clicks must count.
INTERACTIVE_DESTINATIONS = text(
    """
    SELECT id, org, config FROM destinations
    WHERE kind = 'slack' AND config ? 'signing_secret'
    ORDER BY id
    """
)

# The event a click refers to, only if it was sent to one of the destinations whose
# secret signed the click: a valid signature from one org's Slack app can never reach
# another org's events.
EVENT_SENT_TO = text(
    """
    SELECT e.id, e.name, e.org, e.env, e.payload, e.published_at FROM events e
    WHERE e.id = CAST(:id AS uuid) AND EXISTS (
        SELECT 1 FROM deliveries d
        WHERE d.event_id = e.id AND d.destination_id = ANY(CAST(:destinations AS int[])))
    """
)
EVENT_IN_ORGS = text(
    """
    SELECT id, name, org, env, payload, published_at FROM events
    WHERE id = CAST(:id AS uuid) AND org = ANY(CAST(:orgs AS text[]))
    """
)

RECORD_CLICK = text(
    """
    INSERT INTO slack_clicks (org, event_id, action, user_id, user_name, result, channel,
                              message_ts)
    VALUES (:org, CAST(:id AS uuid), :action, :user_id, :user_name, :result, :channel, :ts)
    """
)


# The first resolution of an event. The advisory lock serialises resolutions of one event
# across API processes until commit, so two at once still make one.
LOCK_EVENT = text("SELECT pg_advisory_xact_lock(hashtext(:id))")
FIRST_RESOLUTION = text(
    """
    SELECT user_id, clicked_at FROM slack_clicks
    WHERE event_id = CAST(:id AS uuid) AND action = 'command:resolve' AND result = 'resolved'
    ORDER BY id LIMIT 1
    """
)


class EventRow(NamedTuple):
    id: str
    name: str
    org: str
    env: str | None
    payload: dict[str, Any]
    published_at: datetime | None


def _event(row: Any) -> EventRow:
    return EventRow(str(row.id), row.name, row.org, row.env, row.payload, row.published_at)


def interactive_destinations(conn: Connection) -> list[tuple[int, str, dict[str, Any]]]:
    """``(id, org, sealed config)`` of every Slack destination with a signing secret."""
    return [(r.id, r.org, r.config) for r in conn.execute(INTERACTIVE_DESTINATIONS)]


def event_sent_to(conn: Connection, event_id: str, destinations: Sequence[int]) -> EventRow | None:
    row = conn.execute(
        EVENT_SENT_TO, {"id": event_id, "destinations": list(destinations)}
    ).one_or_none()
    return None if row is None else _event(row)


def event_in_orgs(conn: Connection, event_id: str, orgs: Sequence[str]) -> EventRow | None:
    row = conn.execute(EVENT_IN_ORGS, {"id": event_id, "orgs": list(orgs)}).one_or_none()
    return None if row is None else _event(row)


def record_click(
    conn: Connection,
    *,
    org: str,
    event_id: str,
    action: str,
    user_id: str,
    user_name: str,
    result: str,
    channel: str | None,
    ts: str | None,
) -> None:
    conn.execute(
        RECORD_CLICK,
        {
            "org": org,
            "id": event_id,
            "action": action,
            "user_id": user_id,
            "user_name": pg_text(user_name),
            "result": result,
            "channel": channel,
            "ts": ts,
        },
    )


def first_resolution(conn: Connection, event_id: str) -> tuple[str, datetime] | None:
    """``(user id, when)`` of the event's first resolution, after locking out others."""
    conn.execute(LOCK_EVENT, {"id": event_id})
    row = conn.execute(FIRST_RESOLUTION, {"id": event_id}).one_or_none()
    return None if row is None else (row.user_id, row.clicked_at)
