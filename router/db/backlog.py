"""How much work waits in Postgres, for ``/metrics``: two index scans (the partial indexes on
pending and on delivering rows), whatever the size of the delivery log."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, text

_BACKLOG = text(
    """
    SELECT (SELECT count(*) FROM deliveries WHERE status = 'pending') AS pending,
           (SELECT count(*) FROM deliveries WHERE status = 'delivering') AS delivering,
           (SELECT count(*) FROM deliveries
             WHERE status = 'pending' AND next_attempt_at <= now()) AS due,
           COALESCE(EXTRACT(EPOCH FROM now() - (SELECT min(next_attempt_at) FROM deliveries
             WHERE status = 'pending' AND next_attempt_at <= now())), 0) AS oldest_due_seconds
    """
)


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int
    """Waiting for an attempt, due now or later (retries)."""
    delivering: int
    """Held by a worker right now."""
    due: int
    """Pending and due: what workers should be sending now."""
    oldest_due_seconds: float
    """How long the oldest due delivery has waited (0 when none is due)."""


def backlog(conn: Connection) -> Backlog:
    row = conn.execute(_BACKLOG).one()
    return Backlog(
        pending=int(row.pending),
        delivering=int(row.delivering),
        due=int(row.due),
        oldest_due_seconds=float(row.oldest_due_seconds),
    )
