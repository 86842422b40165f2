"""What the router's scheduler runs: lost leases, due deliveries, auto-disable.

Each scan takes its rows with ``FOR UPDATE SKIP LOCKED``, so several routers may tick
at once and each row goes to one of them.
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, text

# Deliveries whose worker vanished go back to pending, with an attempt row saying so, so
# attempt_count and the attempt log stay in step.
RECLAIM_EXPIRED_LEASES = text(
    """
    WITH lost AS (
        SELECT id FROM deliveries
        WHERE status = 'delivering' AND lease_expires_at < now()
        ORDER BY lease_expires_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ), reset AS (
        UPDATE deliveries d
        SET status = 'pending', next_attempt_at = now(), dispatched_at = NULL,
            lease_expires_at = NULL, updated_at = now(),
            last_error = 'worker lost during the attempt (lease expired)'
        FROM lost WHERE d.id = lost.id
        RETURNING d.id, d.attempt_count
    )
    INSERT INTO delivery_attempts
        (delivery_id, attempt_number, started_at, duration_ms, outcome, error)
    SELECT id, attempt_count, now(), 0, 'retry',
           'worker lost during the attempt (lease expired); retrying'
    FROM reset
    RETURNING delivery_id
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

# Enabled destinations that have failed every attempt for the whole window: no success in
# it, at least :min_attempts failures in it, and failing since before it began.
DESTINATIONS_FAILING_FOR_WINDOW = text(
    """
    SELECT d.destination_id AS id, count(*) AS attempts
    FROM delivery_attempts a
    JOIN deliveries d ON d.id = a.delivery_id
    JOIN destinations dest ON dest.id = d.destination_id AND dest.enabled
    WHERE a.started_at > now() - make_interval(secs => :window)
    GROUP BY d.destination_id
    HAVING count(*) >= :min_attempts
       AND bool_and(a.outcome <> 'succeeded')
       AND min(a.started_at) < now() - make_interval(secs => :window * 0.9)
    """
)


class FailingDestination(NamedTuple):
    id: int
    attempts: int


def reclaim_expired_leases(conn: Connection, *, limit: int) -> list[int]:
    """Return up to ``limit`` deliveries whose worker was lost to ``pending``; their ids."""
    return [row.delivery_id for row in conn.execute(RECLAIM_EXPIRED_LEASES, {"limit": limit})]


def dispatch_due(conn: Connection, *, grace: float, limit: int) -> list[tuple[int, int]]:
    """Mark up to ``limit`` due deliveries dispatched; return ``(delivery_id, destination_id)``."""
    rows = conn.execute(DISPATCH_DUE, {"grace": grace, "limit": limit})
    return [(row.id, row.destination_id) for row in rows]


def destinations_failing_for(
    conn: Connection, *, window: float, min_attempts: int
) -> list[FailingDestination]:
    rows = conn.execute(
        DESTINATIONS_FAILING_FOR_WINDOW, {"window": window, "min_attempts": min_attempts}
    )
    return [FailingDestination(row.id, row.attempts) for row in rows]
