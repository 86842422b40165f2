"""What a worker runs: load the destination, claim a task's rows, record the attempts,
hand back what it did not send, and the slot lock of a slow destination.

Three statements per batch whatever its size: one to load the destination, one claim
(which also loads the events), one that writes attempt rows and delivery states
together. Every write is safe to repeat after a lost commit acknowledgement: a claim
carries a token the worker picks before running it, and every later write of that
batch matches its rows by that token, never by a counter the write itself changes.
"""

from __future__ import annotations

import json
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
    SELECT m.id, m.attempt_count, m.notice, m.address, e.id::text, e.name, e.org, e.env,
           e.payload::text, extract(epoch FROM e.published_at)::float8
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
#
# The rows arrive as one JSON array of arrays (AttemptRow's fields in order), unpacked
# here: the driver dumps twelve typed arrays element by element in Python, where
# ``json.dumps`` writes the whole batch in C (the worker's CPU per delivery is what
# bounds its throughput; bench/RESULTS.md).
RECORD_ATTEMPTS = text(
    """
    WITH v AS (
        SELECT (r->>0)::bigint AS id, (r->>1)::int AS attempt,
               (r->>2)::timestamptz AS started_at, (r->>3)::int AS duration,
               r->>4 AS outcome, (r->>5)::int AS http_status, r->>6 AS error, r->>7 AS body,
               r->>8 AS state, (r->>9)::timestamptz AS next_at, r->>10 AS last_error,
               r->>11 AS receipt
        FROM json_array_elements(CAST(:rows AS json)) AS r
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
    result = conn.execute(
        CLAIM,
        {
            "ids": bigint_array(delivery_ids),
            "destination_id": destination_id,
            "lease": lease_seconds,
            "token": token,
        },
    )
    # The driver's plain tuples: SQLAlchemy's Row per claimed delivery cost more than
    # building the delivery itself.
    return [
        ClaimedDelivery(
            delivery_id,
            attempt,
            Event(
                id=event_id,
                name=name,
                org=org,
                env=env,
                payload_json=payload_json,  # decoded only if an adapter reads it
                published_at=published_at,
                notice=notice,
            ),
            address,
        )
        for (
            delivery_id,
            attempt,
            notice,
            address,
            event_id,
            name,
            org,
            env,
            payload_json,
            published_at,
        ) in result.cursor.fetchall()
    ]


def record_attempts(conn: Connection, token: str, rows: Sequence[AttemptRow]) -> set[int]:
    """Write attempt rows and delivery states; return the ids still held by ``token``
    (the others were taken back by the scheduler: nothing is written for them)."""
    if not rows:
        return set()
    result = conn.execute(RECORD_ATTEMPTS, {"token": token, "rows": attempt_rows_json(rows)})
    return {delivery_id for (delivery_id,) in result.cursor.fetchall()}


def bigint_array(values: Sequence[int]) -> str:
    """``values`` as a Postgres array literal, for ``CAST(:x AS bigint[])``: one string
    instead of a list the driver dumps element by element. ``int()`` keeps it numeric."""
    return "{" + ",".join([str(int(value)) for value in values]) + "}"


def attempt_rows_json(rows: Sequence[AttemptRow]) -> str:
    """``rows`` as RECORD_ATTEMPTS reads them: a JSON array of each row's fields in order,
    times in ISO 8601, texts as Postgres accepts them (``pg_text``)."""
    return json.dumps(
        [
            (
                *row[:6],
                pg_text(row.error),
                pg_text(row.response_body),
                row.status,
                row.next_attempt_at,
                pg_text(row.last_error),
                pg_text(row.receipt),
            )
            for row in rows
        ],
        default=_iso_time,
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _iso_time(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a field of an attempt row")


def release_unsent(conn: Connection, token: str, delivery_ids: Sequence[int]) -> int:
    """Hand claimed rows that were never sent back to ``pending``, attempt count restored."""
    if not delivery_ids:
        return 0
    return conn.execute(
        RELEASE_UNSENT, {"ids": bigint_array(delivery_ids), "token": token}
    ).rowcount


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
    params = {"ids": bigint_array(delivery_ids), "destination_id": destination_id, "delay": delay}
    return conn.execute(DEFER_TASK, params).rowcount


def cancel_pending_of_task(conn: Connection, delivery_ids: Sequence[int], reason: str) -> int:
    params = {"ids": bigint_array(delivery_ids), "reason": reason}
    return conn.execute(CANCEL_PENDING_OF_TASK, params).rowcount


def try_destination_slot(conn: Connection, slot: int, destination_id: int) -> bool:
    """Take advisory lock ``(slot, destination_id)`` for this transaction if it is free."""
    params = {"slot": slot, "destination_id": destination_id}
    return bool(conn.execute(TRY_DESTINATION_SLOT, params).scalar())
