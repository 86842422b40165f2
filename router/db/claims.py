"""What a worker runs: load the destination, claim a task's rows, record the attempts,
hand back what it did not send, and the slot lock of a slow destination.

Three statements per batch whatever its size: one to load the destination, one claim
(which also loads the events), one that writes attempt rows and delivery states
together. Every write is safe to repeat after a lost commit acknowledgement: a claim
carries a token the worker picks before running it, and every later write of that
batch matches its rows by that token, never by a counter the write itself changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, text

from eventrouter.router.db.engine import pg_text
from eventrouter.router.events import Event

LOAD_DESTINATION = text(
    "SELECT id, org, name, kind, config, enabled, retry_schedule FROM destinations WHERE id = :id"
)

# Take the rows of a task that are still ours to send. A duplicate task (Celery
# redelivery) finds them no longer pending and sends nothing.
#
# Shape, measured in bench/: the task's rows are read by primary key alone, in a
# MATERIALIZED step, and conditions are checked there. Given them on the table itself,
# the planner (whose statistics lag during a burst) chose bitmap scans over *every*
# pending row of the destination — 20,000 rows read to claim 100 — so claims slowed down
# exactly while a backlog built up. The UPDATE then matches on id and on the row version
# seen (xmin): a row changed in between (claimed by a racing task, cancelled) is skipped,
# which is what a status re-check did, without offering the planner an index to misuse.
#
# The claim token is chosen by the worker before the statement runs. When the commit went
# through but its acknowledgement was lost (the connection dropped), the worker runs the
# same claim again: the rows it already took carry its token and are returned as they are,
# instead of waiting for the lease to run out.
CLAIM = text(
    """
    WITH task AS MATERIALIZED (
        SELECT t.id, t.xmin AS version, t.event_id, t.destination_id, t.status,
               t.attempt_count, t.next_attempt_at, t.claim_token, t.notice, t.address,
               t.user_id IS NOT NULL AND NOT EXISTS (
                   SELECT 1 FROM users u WHERE u.id = t.user_id) AS user_gone
        FROM deliveries t
        WHERE t.id = ANY(CAST(:ids AS bigint[]))
    ), candidates AS (
        SELECT id, version, user_gone FROM task
        WHERE destination_id = :destination_id AND status = 'pending'
          AND next_attempt_at <= now() + interval '1 second'
    ), gone AS (  -- a person removed since it was planned gets nothing more
        UPDATE deliveries d
        SET status = 'cancelled', last_error = 'user removed', dispatched_at = NULL,
            updated_at = now()
        FROM candidates c
        WHERE d.id = c.id AND d.xmin = c.version AND c.user_gone
    ), claimed AS (
        UPDATE deliveries d
        SET status = 'delivering', attempt_count = attempt_count + 1,
            claim_token = CAST(:token AS uuid),
            lease_expires_at = now() + make_interval(secs => :lease), updated_at = now()
        FROM candidates c
        WHERE d.id = c.id AND d.xmin = c.version AND NOT c.user_gone
        RETURNING d.id, d.event_id, d.attempt_count, d.notice, d.address
    ), mine AS (
        SELECT id, event_id, attempt_count, notice, address FROM claimed
        UNION ALL
        SELECT id, event_id, attempt_count, notice, address FROM task
        WHERE status = 'delivering' AND claim_token = CAST(:token AS uuid)
    )
    SELECT m.id, m.attempt_count, m.notice, m.address, e.id AS event_id, e.name, e.org,
           e.env, e.payload::text AS payload_json, e.published_at
    FROM mine m JOIN events e ON e.id = m.event_id
    ORDER BY m.id
    """
)

CANCEL_PENDING_OF_TASK = text(
    """
    UPDATE deliveries SET status = 'cancelled', last_error = :reason, updated_at = now(),
                          dispatched_at = NULL
    WHERE id = ANY(CAST(:ids AS bigint[])) AND status = 'pending'
    """
)

# One statement records a batch. A row is written only while the delivery is still this
# claim's (delivering, same token): a repeated commit, or a record arriving after the
# lease expired and the scheduler took the row back, changes nothing.
RECORD_ATTEMPTS = text(
    """
    WITH v AS (
        SELECT * FROM unnest(
            CAST(:delivery_ids AS bigint[]), CAST(:attempt_numbers AS int[]),
            CAST(:started_at AS timestamptz[]), CAST(:durations AS int[]),
            CAST(:outcomes AS text[]), CAST(:statuses AS int[]), CAST(:errors AS text[]),
            CAST(:bodies AS text[]), CAST(:states AS text[]), CAST(:next_at AS timestamptz[]),
            CAST(:last_errors AS text[]), CAST(:receipts AS text[]))
        AS v(id, attempt, started_at, duration, outcome, http_status, error, body, state,
             next_at, last_error, receipt)
    ), updated AS (
        UPDATE deliveries d
        SET status = v.state,
            next_attempt_at = COALESCE(v.next_at, d.next_attempt_at),
            dispatched_at = NULL, lease_expires_at = NULL, last_error = v.last_error,
            updated_at = now()
        FROM v
        WHERE d.id = v.id AND d.status = 'delivering' AND d.claim_token = CAST(:token AS uuid)
        RETURNING d.id
    )
    INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms,
                                   outcome, http_status, error, response_body, receipt)
    SELECT v.id, v.attempt, v.started_at, v.duration, v.outcome, v.http_status, v.error, v.body,
           v.receipt
    FROM v JOIN updated u ON u.id = v.id
    RETURNING delivery_id
    """
)

# Claimed rows the task did not get to (time box or shutdown) go back to pending as if
# never claimed, for the scheduler to dispatch again at once. Matched by the claim token:
# the attempt_count this gives back must not identify the rows, or a repeat of this
# statement would match the next worker's claim of them and undo it.
RELEASE_UNSENT = text(
    """
    UPDATE deliveries
    SET status = 'pending', attempt_count = attempt_count - 1, dispatched_at = NULL,
        lease_expires_at = NULL, updated_at = now()
    WHERE id = ANY(CAST(:ids AS bigint[])) AND status = 'delivering'
      AND claim_token = CAST(:token AS uuid)
    """
)

# Deliveries held back by eventrouter's own rate limit. Not an attempt: the attempt_count
# the claim added is given back and no attempt row is written. Matched by the claim token,
# as RELEASE_UNSENT is and for the same reason.
DEFER_DELIVERIES = text(
    """
    UPDATE deliveries d
    SET status = 'pending', attempt_count = d.attempt_count - 1,
        next_attempt_at = now() + make_interval(secs => v.after), last_error = v.reason,
        dispatched_at = NULL, lease_expires_at = NULL, updated_at = now()
    FROM unnest(CAST(:ids AS bigint[]), CAST(:after AS double precision[]),
                CAST(:reasons AS text[])) AS v(id, after, reason)
    WHERE d.id = v.id AND d.status = 'delivering' AND d.claim_token = CAST(:token AS uuid)
    """
)

# A task for a slow destination that found no free slot hands its rows back to the
# scheduler, due again after :delay seconds, instead of queueing behind the slot.
DEFER_TASK = text(  # same shape as CLAIM, for the same reason: primary key only
    """
    WITH task AS MATERIALIZED (
        SELECT id, xmin AS version, destination_id, status FROM deliveries
        WHERE id = ANY(CAST(:ids AS bigint[]))
    )
    UPDATE deliveries d
    SET dispatched_at = NULL,
        next_attempt_at = GREATEST(d.next_attempt_at, now() + make_interval(secs => :delay)),
        updated_at = now()
    FROM task
    WHERE d.id = task.id AND d.xmin = task.version
      AND task.destination_id = :destination_id AND task.status = 'pending'
    """
)

# One of N slots serving a slow destination; a transaction-level advisory lock, so a
# worker that dies or a transaction that ends frees it.
TRY_DESTINATION_SLOT = text("SELECT pg_try_advisory_xact_lock(:slot, :destination_id)")


@dataclass(frozen=True, slots=True)
class DestinationRecord:
    id: int
    org: str
    name: str
    kind: str
    config: dict[str, Any]
    enabled: bool
    retry_schedule: str | None


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    id: int
    attempt: int
    event: Event
    address: str | None = None
    """A person's delivery: where the destination sends it instead of its own target."""


class AttemptRow(NamedTuple):
    """One attempt to record, and the state it leaves its delivery in."""

    delivery_id: int
    attempt: int
    started_at: datetime
    duration_ms: int
    outcome: str
    http_status: int | None
    error: str | None
    response_body: str | None
    status: str
    next_attempt_at: datetime | None
    last_error: str | None
    receipt: str | None = None
    """The provider's reference to what the attempt made (``Outcome.receipt``)."""


class Deferral(NamedTuple):
    """A claimed delivery the rate limiter held back: due again ``after`` seconds."""

    delivery_id: int
    after: float
    reason: str | None


def load_destination(conn: Connection, destination_id: int) -> DestinationRecord | None:
    row = conn.execute(LOAD_DESTINATION, {"id": destination_id}).one_or_none()
    if row is None:
        return None
    return DestinationRecord(
        row.id, row.org, row.name, row.kind, row.config, row.enabled, row.retry_schedule
    )


def claim(
    conn: Connection,
    destination_id: int,
    delivery_ids: Sequence[int],
    *,
    lease_seconds: float,
    token: str,
) -> list[ClaimedDelivery]:
    """Claim what is still pending of ``delivery_ids`` under ``token``; repeating the
    call with the same token returns the rows it already took."""
    rows = conn.execute(
        CLAIM,
        {
            "ids": list(delivery_ids),
            "destination_id": destination_id,
            "lease": lease_seconds,
            "token": token,
        },
    )
    return [
        ClaimedDelivery(
            row.id,
            row.attempt_count,
            Event(
                id=str(row.event_id),
                name=row.name,
                org=row.org,
                env=row.env,
                payload_json=row.payload_json,  # decoded only if an adapter reads it
                published_at=(row.published_at.timestamp() if row.published_at else None),
                notice=row.notice,
            ),
            row.address,
        )
        for row in rows
    ]


def record_attempts(conn: Connection, token: str, rows: Sequence[AttemptRow]) -> set[int]:
    """Write attempt rows and delivery states; return the ids still held by ``token``
    (the others were taken back by the scheduler: nothing is written for them)."""
    if not rows:
        return set()
    written = conn.execute(
        RECORD_ATTEMPTS,
        {
            "token": token,
            "delivery_ids": [r.delivery_id for r in rows],
            "attempt_numbers": [r.attempt for r in rows],
            "started_at": [r.started_at for r in rows],
            "durations": [r.duration_ms for r in rows],
            "outcomes": [r.outcome for r in rows],
            "statuses": [r.http_status for r in rows],
            "errors": [pg_text(r.error) for r in rows],
            "bodies": [pg_text(r.response_body) for r in rows],
            "states": [r.status for r in rows],
            "next_at": [r.next_attempt_at for r in rows],
            "last_errors": [pg_text(r.last_error) for r in rows],
            "receipts": [pg_text(r.receipt) for r in rows],
        },
    )
    return {row.delivery_id for row in written}


def release_unsent(conn: Connection, token: str, delivery_ids: Sequence[int]) -> int:
    """Hand claimed rows that were never sent back to ``pending``, attempt count restored."""
    if not delivery_ids:
        return 0
    return conn.execute(RELEASE_UNSENT, {"ids": list(delivery_ids), "token": token}).rowcount


def defer_deliveries(conn: Connection, token: str, rows: Sequence[Deferral]) -> int:
    if not rows:
        return 0
    params = {
        "token": token,
        "ids": [r.delivery_id for r in rows],
        "after": [r.after for r in rows],
        "reasons": [pg_text(r.reason) for r in rows],
    }
    return conn.execute(DEFER_DELIVERIES, params).rowcount


def defer_task(
    conn: Connection, destination_id: int, delivery_ids: Sequence[int], delay: float
) -> int:
    """Leave a task's pending rows to the scheduler, due in ``delay`` seconds at the earliest."""
    params = {"ids": list(delivery_ids), "destination_id": destination_id, "delay": delay}
    return conn.execute(DEFER_TASK, params).rowcount


def cancel_pending_of_task(conn: Connection, delivery_ids: Sequence[int], reason: str) -> int:
    params = {"ids": list(delivery_ids), "reason": reason}
    return conn.execute(CANCEL_PENDING_OF_TASK, params).rowcount


def try_destination_slot(conn: Connection, slot: int, destination_id: int) -> bool:
    """Take advisory lock ``(slot, destination_id)`` for this transaction if it is free."""
    params = {"slot": slot, "destination_id": destination_id}
    return bool(conn.execute(TRY_DESTINATION_SLOT, params).scalar())
