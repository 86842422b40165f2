"""Approval requests and acknowledgements: storing a request, its one decision (a click,
a command or the router's timeout) and an event's first acknowledgement.

Exactly one decision per request: every path that decides (a click on any API process, a
slash command, the router's timeout) is one ``UPDATE … WHERE decision IS NULL``. Postgres
makes concurrent ones wait for the row and re-check the condition, so the first commit wins
and the others change nothing, whatever process or millisecond they came from. The event
a decision publishes and the Slack updates it needs are written in the same transaction
(``ingest.emit``, ``slack_messages.queue_message_updates``), so none is lost or doubled.
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
