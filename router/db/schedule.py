"""What the router's scheduler runs: lost leases, due deliveries, orphans, auto-disable.

Each scan takes its rows with ``FOR UPDATE SKIP LOCKED``, so several routers may tick
at once and each row goes to one of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import Connection, text

# Deliveries whose worker vanished (its lease ran out) get an attempt row saying so, so
# attempt_count and the attempt log stay in step, and the lost attempt counts against the
# retry schedule: within it the row is due again at once; past its end it is `failed`
# (which emits delivery:failed, migration 0002), so a delivery that kills its worker every
# time is not re-sent forever. A row whose destination was removed meanwhile is cancelled.
#
# The number of delays in a destination's own schedule is counted the way
# durations.parse_schedule reads it: the non-blank comma-separated parts ('' is one attempt).
RECLAIM_EXPIRED_LEASES = text(
    r"""
    WITH lost AS (
        SELECT id FROM deliveries
        WHERE status = 'delivering' AND lease_expires_at < now()
        ORDER BY lease_expires_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ), judged AS (
        SELECT d.id,
               1 + (SELECT count(*) FROM delivery_attempts a
                    WHERE a.delivery_id = d.id AND a.error LIKE 'worker lost%') AS times_lost,
               CASE
                   WHEN d.destination_id IS NULL THEN 'cancelled'
                   WHEN d.attempt_count > COALESCE(
                            cardinality(array_remove(string_to_array(
                                regexp_replace(dest.retry_schedule, '\s', '', 'g'), ','), '')),
                            :default_delays)
                       THEN 'failed'
                   ELSE 'pending'
               END AS state
        FROM lost
        JOIN deliveries d ON d.id = lost.id
        LEFT JOIN destinations dest ON dest.id = d.destination_id
    ), reset AS (
        UPDATE deliveries d
        SET status = j.state, next_attempt_at = now(), dispatched_at = NULL,
            lease_expires_at = NULL, updated_at = now(),
            last_error = CASE j.state
                WHEN 'pending' THEN 'worker lost during the attempt (lease expired)'
                WHEN 'cancelled' THEN 'destination removed'
                ELSE format('worker lost %s (lease expired); gave up after %s attempts',
                            CASE WHEN j.times_lost = 1 THEN 'once'
                                 ELSE j.times_lost || ' times' END,
                            d.attempt_count)
            END
        FROM judged j WHERE d.id = j.id
        RETURNING d.id, d.attempt_count, d.status
    ), logged AS (
        INSERT INTO delivery_attempts
            (delivery_id, attempt_number, started_at, duration_ms, outcome, error)
        SELECT id, attempt_count, now(), 0,
               CASE status WHEN 'pending' THEN 'retry' ELSE 'failed' END,
               'worker lost during the attempt (lease expired); ' || CASE status
                   WHEN 'pending' THEN 'retrying'
                   WHEN 'cancelled' THEN 'destination removed'
                   ELSE 'no attempts left' END
        FROM reset
    )
    SELECT id, status FROM reset
    """
)

# Due work: new deliveries whose dispatch was lost, retries whose time has come, and
# rows put back by `eventrouter retry`. SKIP LOCKED lets several routers share the scan.
DISPATCH_DUE = text(
    """
    WITH due AS (
        SELECT id FROM deliveries
        WHERE status = 'pending' AND next_attempt_at <= now()
          AND destination_id IS NOT NULL
          AND (dispatched_at IS NULL
               OR dispatched_at < now() - make_interval(secs => :grace))
        ORDER BY next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE deliveries d SET dispatched_at = now()
    FROM due WHERE d.id = due.id
    RETURNING d.id, d.destination_id
    """
)

# Deliveries whose dispatch failed (the broker is down): due again at the first tick that
# finds the broker back, instead of only after the grace period.
UNDISPATCH = text(
    """
    UPDATE deliveries SET dispatched_at = NULL
    WHERE id = ANY(CAST(:ids AS bigint[])) AND status = 'pending'
    """
)

# Removing a destination sets its deliveries' destination_id to NULL (ON DELETE SET NULL,
# so the history stays). Such a row can never be sent, and a row that comes back to
# `pending` after the removal (a retry recorded, unsent rows handed back, a rate-limit
# deferral) would wait forever: it is cancelled here. The scan is a range of the index
# deliveries_destination_status (destination_id IS NULL, status 'pending'): nearly free.
CANCEL_ORPHANED = text(
    """
    WITH orphaned AS (
        SELECT id FROM deliveries
        WHERE status = 'pending' AND destination_id IS NULL
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE deliveries d
    SET status = 'cancelled', last_error = 'destination removed', dispatched_at = NULL,
        updated_at = now()
    FROM orphaned WHERE d.id = orphaned.id
    RETURNING d.id
    """
)

# Enabled destinations that have failed every attempt for the whole window: no success in
# it, at least :min_attempts failures in it, and failing since before it began. Only
# attempts since the destination was last enabled count (enabled_since, set by a trigger,
# migration 0003): an operator who enables an auto-disabled destination gets a whole new
# window, instead of the old failures disabling it again at the next check.
DESTINATIONS_FAILING_FOR_WINDOW = text(
    """
    SELECT d.destination_id AS id, count(*) AS attempts
    FROM delivery_attempts a
    JOIN deliveries d ON d.id = a.delivery_id
    JOIN destinations dest ON dest.id = d.destination_id AND dest.enabled
    WHERE a.started_at > now() - make_interval(secs => :window)
      AND a.started_at >= dest.enabled_since
    GROUP BY d.destination_id
    HAVING count(*) >= :min_attempts
       AND bool_and(a.outcome <> 'succeeded')
       AND min(a.started_at) < now() - make_interval(secs => :window * 0.9)
    """
)


class Reclaimed(NamedTuple):
    """What became of deliveries whose lease expired."""

    retrying: list[int]
    failed: list[int]
    cancelled: list[int]


class FailingDestination(NamedTuple):
    id: int
    attempts: int


def reclaim_expired_leases(conn: Connection, *, limit: int, default_delays: int) -> Reclaimed:
    """Take back up to ``limit`` deliveries whose worker was lost.

    ``default_delays`` is the length of the global retry schedule, for destinations
    without their own.
    """
    rows = conn.execute(RECLAIM_EXPIRED_LEASES, {"limit": limit, "default_delays": default_delays})
    reclaimed = Reclaimed([], [], [])
    by_status = {"pending": reclaimed.retrying, "failed": reclaimed.failed}
    for row in rows:
        by_status.get(row.status, reclaimed.cancelled).append(row.id)
    return reclaimed


def dispatch_due(conn: Connection, *, grace: float, limit: int) -> list[tuple[int, int]]:
    """Mark up to ``limit`` due deliveries dispatched; return ``(delivery_id, destination_id)``."""
    rows = conn.execute(DISPATCH_DUE, {"grace": grace, "limit": limit})
    return [(row.id, row.destination_id) for row in rows]


def undispatch(conn: Connection, delivery_ids: Sequence[int]) -> None:
    conn.execute(UNDISPATCH, {"ids": list(delivery_ids)})


def cancel_orphaned(conn: Connection, *, limit: int) -> int:
    """Cancel up to ``limit`` pending deliveries whose destination was removed."""
    return len(conn.execute(CANCEL_ORPHANED, {"limit": limit}).fetchall())


def destinations_failing_for(
    conn: Connection, *, window: float, min_attempts: int
) -> list[FailingDestination]:
    rows = conn.execute(
        DESTINATIONS_FAILING_FOR_WINDOW, {"window": window, "min_attempts": min_attempts}
    )
    return [FailingDestination(row.id, row.attempts) for row in rows]
