"""Approvals, acknowledgements, clicks and Slack message updates (``control.slack``, the
router's store and its scheduler run these).

Exactly one decision per request: every path that decides (a click on any API process, a
slash command, the router's timeout) is one ``UPDATE … WHERE decision IS NULL``. Postgres
makes concurrent ones wait for the row and re-check the condition, so the first commit wins
and the others change nothing, whatever process or millisecond they came from. The event
a decision publishes and the Slack updates it needs are written in the same transaction
(the ``system_events`` outbox, ``slack_message_updates``), so none is lost or doubled.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, text

from eventrouter.router.db.engine import pg_text

INSERT_APPROVALS = text(
    """
    INSERT INTO approvals (request_event_id, org, env, request_name, prompt, approvers,
                           on_timeout, expires_at)
    SELECT i, o, e, n, p,
           CASE WHEN a = 'null' THEN NULL ELSE ARRAY(SELECT jsonb_array_elements_text(a)) END,
           t, now() + make_interval(secs => s)
    FROM unnest(CAST(:ids AS uuid[]), CAST(:orgs AS text[]), CAST(:envs AS text[]),
                CAST(:names AS text[]), CAST(:prompts AS text[]), CAST(:approvers AS jsonb[]),
                CAST(:on_timeout AS text[]), CAST(:seconds AS float8[]))
        AS v(i, o, e, n, p, a, t, s)
    ON CONFLICT DO NOTHING
    """
)

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

APPROVAL = text("SELECT * FROM approvals WHERE request_event_id = CAST(:id AS uuid)")

DECIDE = text(
    """
    UPDATE approvals
    SET decision = :decision, decided_by_id = :user_id, decided_by_name = :user_name,
        decided_at = now(), message_channel = :channel, message_ts = :ts
    WHERE request_event_id = CAST(:id AS uuid) AND decision IS NULL
    RETURNING *
    """
)

# Due requests, each taken by one router (SKIP LOCKED); the decision IS NULL re-check
# loses to a click that committed first.
EXPIRE_DUE = text(
    """
    UPDATE approvals a SET decision = 'expired', decided_at = now()
    FROM events e
    WHERE e.id = a.request_event_id AND a.decision IS NULL
      AND a.request_event_id IN (
        SELECT request_event_id FROM approvals
        WHERE decision IS NULL AND expires_at <= now()
        ORDER BY expires_at LIMIT :limit FOR UPDATE SKIP LOCKED)
    RETURNING a.*, e.payload
    """
)

ACKNOWLEDGE = text(
    """
    INSERT INTO acknowledgements (event_id, org, acked_by_id, acked_by_name, via)
    VALUES (CAST(:id AS uuid), :org, :user_id, :user_name, :via)
    ON CONFLICT (event_id) DO NOTHING
    RETURNING acked_at
    """
)
ACKNOWLEDGEMENT = text(
    "SELECT acked_by_id, acked_by_name, acked_at FROM acknowledgements"
    " WHERE event_id = CAST(:id AS uuid)"
)

RECORD_CLICK = text(
    """
    INSERT INTO slack_clicks (org, event_id, action, user_id, user_name, result, channel,
                              message_ts)
    VALUES (:org, CAST(:id AS uuid), :action, :user_id, :user_name, :result, :channel, :ts)
    """
)

EMIT = text(
    """
    INSERT INTO system_events (org, env, name, payload)
    VALUES (:org, :env, :name, CAST(:payload AS jsonb))
    """
)

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


class ApprovalRow(NamedTuple):
    """An approval request to store with its event."""

    event_id: str
    org: str
    env: str | None
    name: str
    prompt: str
    approvers: tuple[str, ...] | None
    on_timeout: str
    timeout_seconds: float


class EventRow(NamedTuple):
    id: str
    name: str
    org: str
    env: str | None
    payload: dict[str, Any]
    published_at: datetime | None


class ApprovalState(NamedTuple):
    request_event_id: str
    org: str
    env: str | None
    request_name: str
    approvers: list[str] | None
    on_timeout: str
    expires_at: datetime
    decision: str | None
    decided_by_id: str | None
    decided_by_name: str | None
    decided_at: datetime | None


class Expired(NamedTuple):
    state: ApprovalState
    payload: dict[str, Any]


class Acknowledgement(NamedTuple):
    acked_by_id: str
    acked_by_name: str
    acked_at: datetime


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


def _state(row: Any) -> ApprovalState:
    return ApprovalState(
        str(row.request_event_id),
        row.org,
        row.env,
        row.request_name,
        row.approvers,
        row.on_timeout,
        row.expires_at,
        row.decision,
        row.decided_by_id,
        row.decided_by_name,
        row.decided_at,
    )


def _event(row: Any) -> EventRow:
    return EventRow(str(row.id), row.name, row.org, row.env, row.payload, row.published_at)


def insert_approvals(conn: Connection, rows: Sequence[ApprovalRow]) -> None:
    """Store approval requests; one already stored (a replayed event) is left as it is."""
    if not rows:
        return
    conn.execute(
        INSERT_APPROVALS,
        {
            "ids": [r.event_id for r in rows],
            "orgs": [r.org for r in rows],
            "envs": [r.env for r in rows],
            "names": [r.name for r in rows],
            "prompts": [pg_text(r.prompt) for r in rows],
            "approvers": [json.dumps(list(r.approvers) if r.approvers else None) for r in rows],
            "on_timeout": [r.on_timeout for r in rows],
            "seconds": [r.timeout_seconds for r in rows],
        },
    )


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


def approval(conn: Connection, event_id: str) -> ApprovalState | None:
    row = conn.execute(APPROVAL, {"id": event_id}).one_or_none()
    return None if row is None else _state(row)


def decide(
    conn: Connection,
    event_id: str,
    decision: str,
    *,
    user_id: str,
    user_name: str,
    channel: str | None,
    ts: str | None,
) -> ApprovalState | None:
    """Record ``decision`` unless one was made already; the new state, or ``None``."""
    row = conn.execute(
        DECIDE,
        {
            "id": event_id,
            "decision": decision,
            "user_id": user_id,
            "user_name": pg_text(user_name),
            "channel": channel,
            "ts": ts,
        },
    ).one_or_none()
    return None if row is None else _state(row)


def expire_due(conn: Connection, limit: int) -> list[Expired]:
    """Mark up to ``limit`` overdue undecided requests expired; return them."""
    return [Expired(_state(r), r.payload) for r in conn.execute(EXPIRE_DUE, {"limit": limit})]


def acknowledge(
    conn: Connection, event_id: str, org: str, *, user_id: str, user_name: str, via: str
) -> datetime | None:
    """Record the first acknowledgement of ``event_id``; its time, or ``None`` if not first."""
    row = conn.execute(
        ACKNOWLEDGE,
        {
            "id": event_id,
            "org": org,
            "user_id": user_id,
            "user_name": pg_text(user_name),
            "via": via,
        },
    ).one_or_none()
    return None if row is None else row.acked_at


def acknowledgement(conn: Connection, event_id: str) -> Acknowledgement | None:
    row = conn.execute(ACKNOWLEDGEMENT, {"id": event_id}).one_or_none()
    return (
        None if row is None else Acknowledgement(row.acked_by_id, row.acked_by_name, row.acked_at)
    )


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


def emit(conn: Connection, org: str, env: str | None, name: str, payload: dict[str, Any]) -> None:
    """Queue an event for the routers (the outbox they drain), in the caller's transaction."""
    conn.execute(EMIT, {"org": org, "env": env, "name": name, "payload": json.dumps(payload)})


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


def first_resolution(conn: Connection, event_id: str) -> tuple[str, datetime] | None:
    """``(user id, when)`` of the event's first resolution, after locking out others."""
    conn.execute(LOCK_EVENT, {"id": event_id})
    row = conn.execute(FIRST_RESOLUTION, {"id": event_id}).one_or_none()
    return None if row is None else (row.user_id, row.clicked_at)
