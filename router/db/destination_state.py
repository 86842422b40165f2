"""Disabling a destination and cancelling its open deliveries.

Shared by the worker (410 Gone), the scheduler (auto-disable) and the control plane
(``destinations disable`` / ``remove``): one spelling of each write, so every path
that takes a destination out of service leaves the same rows behind.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from eventrouter.router.db.engine import pg_text

DISABLE_DESTINATION = text(
    """
    UPDATE destinations SET enabled = false, disabled_reason = :reason, updated_at = now()
    WHERE id = :id AND enabled
    """
)

CANCEL_OPEN_DELIVERIES = text(
    """
    UPDATE deliveries SET status = 'cancelled', last_error = :reason, updated_at = now(),
                          dispatched_at = NULL, lease_expires_at = NULL
    WHERE destination_id = :destination_id AND status = 'pending'
    """
)


def disable_destination(conn: Connection, destination_id: int, reason: str) -> bool:
    """Disable an enabled destination; ``False`` when it was already disabled (or is gone).

    The ``destination:disabled`` system event is written by a trigger (migration 0002),
    only on a transition from enabled, so disabling twice emits it once.
    """
    result = conn.execute(DISABLE_DESTINATION, {"id": destination_id, "reason": pg_text(reason)})
    return bool(result.rowcount)


def cancel_open_deliveries(conn: Connection, destination_id: int, reason: str) -> int:
    """Cancel the destination's ``pending`` deliveries with ``reason``; return how many.

    Rows being delivered right now are left to their worker, which records the attempt;
    ``retry --failed`` brings cancelled rows back after the destination is enabled again.
    """
    params = {"destination_id": destination_id, "reason": pg_text(reason)}
    return conn.execute(CANCEL_OPEN_DELIVERIES, params).rowcount
