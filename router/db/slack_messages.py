"""Slack messages to bring up to date after a decision or an acknowledgement: queued in
the transaction that decided, taken under a lease by one router's scheduler, finished or
retried (``control.approvals``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, text

from eventrouter.router.db.clicks import EventRow
from eventrouter.router.db.engine import pg_text

# One update per Slack destination that showed the event: its latest posted message.
QUEUE_MESSAGE_UPDATES = text(
    """
    INSERT INTO slack_message_updates (event_id, destination_id, receipt, reply)
    SELECT DISTINCT ON (d.destination_id) d.event_id, d.destination_id, a.receipt, :reply
    FROM deliveries d
    JOIN delivery_attempts a ON a.delivery_id = d.id
    JOIN destinations ds ON ds.id = d.destination_id AND ds.kind = 'slack'
    WHERE d.event_id = CAST(:id AS uuid) AND a.outcome = 'succeeded' AND a.receipt IS NOT NULL
    ORDER BY d.destination_id, a.id DESC
    """
)

# Due updates, leased for :lease seconds by pushing due_at forward (a router killed in the
# middle leaves them due again after the lease). Each row carries what the message must
# show now: the approval's and the acknowledgement's current state.
TAKE_MESSAGE_UPDATES = text(
    """
    WITH taken AS (
        UPDATE slack_message_updates u
        SET due_at = now() + make_interval(secs => :lease), attempts = attempts + 1
        WHERE id IN (SELECT id FROM slack_message_updates
                     WHERE due_at <= now() AND attempts < :max_attempts
                     ORDER BY due_at LIMIT :limit FOR UPDATE SKIP LOCKED)
        RETURNING u.*
    )
    SELECT t.id, t.receipt, t.reply, t.replied, t.attempts, t.destination_id,
           ds.config, ds.enabled,
           e.id AS event_id, e.name, e.org, e.env, e.payload, e.published_at,
           ap.decision, ap.decided_by_id, ap.decided_at,
           ak.acked_by_id, ak.acked_at
    FROM taken t
    JOIN destinations ds ON ds.id = t.destination_id
    JOIN events e ON e.id = t.event_id
    LEFT JOIN approvals ap ON ap.request_event_id = t.event_id
    LEFT JOIN acknowledgements ak ON ak.event_id = t.event_id
    ORDER BY t.id
    """
)
FINISH_MESSAGE_UPDATE = text("DELETE FROM slack_message_updates WHERE id = :id")
MESSAGE_REPLIED = text("UPDATE slack_message_updates SET replied = true WHERE id = :id")
MESSAGE_UPDATE_FAILED = text(
    """
    UPDATE slack_message_updates
    SET last_error = :error, due_at = now() + make_interval(secs => :retry_in)
    WHERE id = :id
    """
)


class MessageUpdate(NamedTuple):
    """A Slack message to bring up to date, with all it must show."""

    id: int
    receipt: str
    reply: str
    replied: bool
    attempts: int
    destination_id: int
    config: dict[str, Any]
    enabled: bool
    event: EventRow
    decision: str | None
    decided_by_id: str | None
    decided_at: datetime | None
    acked_by_id: str | None
    acked_at: datetime | None


def queue_message_updates(conn: Connection, event_id: str, reply: str) -> int:
    """Ask for every Slack message showing ``event_id`` to be brought up to date, and
    ``reply`` to be posted in its thread; return how many messages."""
    return conn.execute(QUEUE_MESSAGE_UPDATES, {"id": event_id, "reply": reply}).rowcount


def take_message_updates(
    conn: Connection, *, limit: int, lease: float, max_attempts: int
) -> list[MessageUpdate]:
    rows = conn.execute(
        TAKE_MESSAGE_UPDATES, {"limit": limit, "lease": lease, "max_attempts": max_attempts}
    )
    return [
        MessageUpdate(
            r.id,
            r.receipt,
            r.reply,
            r.replied,
            r.attempts,
            r.destination_id,
            r.config,
            r.enabled,
            EventRow(str(r.event_id), r.name, r.org, r.env, r.payload, r.published_at),
            r.decision,
            r.decided_by_id,
            r.decided_at,
            r.acked_by_id,
            r.acked_at,
        )
        for r in rows
    ]


def finish_message_update(conn: Connection, update_id: int) -> None:
    conn.execute(FINISH_MESSAGE_UPDATE, {"id": update_id})


def message_replied(conn: Connection, update_id: int) -> None:
    conn.execute(MESSAGE_REPLIED, {"id": update_id})


def message_update_failed(conn: Connection, update_id: int, error: str, retry_in: float) -> None:
    conn.execute(
        MESSAGE_UPDATE_FAILED, {"id": update_id, "error": pg_text(error), "retry_in": retry_in}
    )
