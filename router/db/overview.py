"""The overview's figures: attempts per minute, each destination's health, the org's
backlog. Every query reads a bounded window of ``delivery_attempts`` through its
``started_at`` index, so the page costs the same however long the history is."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text

from eventrouter.router.models.overview import DestinationHealth, MinuteCount

# Attempts of the org's events since :since, per minute; a retry counts as a failed attempt.
_PER_MINUTE = text(
    """
    SELECT date_trunc('minute', a.started_at) AS minute,
           count(*) FILTER (WHERE a.outcome = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE a.outcome <> 'succeeded') AS failed
    FROM delivery_attempts a
    JOIN deliveries d ON d.id = a.delivery_id
    JOIN events e ON e.id = d.event_id
    WHERE a.started_at >= :since AND e.org = :org
    GROUP BY 1
    ORDER BY 1
    """
)

# Every destination of the org, with what its attempts since :since say; the window is
# gathered once (index on started_at), then joined to the org's destinations.
_HEALTH = text(
    """
    WITH recent AS (
        SELECT d.destination_id, a.outcome, a.duration_ms, a.error, a.started_at
        FROM delivery_attempts a
        JOIN deliveries d ON d.id = a.delivery_id
        WHERE a.started_at >= :since AND d.destination_id IS NOT NULL
    )
    SELECT dst.name, dst.kind AS type, dst.enabled, dst.disabled_reason,
           count(r.outcome) AS attempts,
           count(r.outcome) FILTER (WHERE r.outcome = 'succeeded') AS succeeded,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY r.duration_ms) AS p95_ms,
           last.error AS last_error, last.started_at AS last_error_at
    FROM destinations dst
    LEFT JOIN recent r ON r.destination_id = dst.id
    LEFT JOIN LATERAL (
        SELECT l.error, l.started_at FROM recent l
        WHERE l.destination_id = dst.id AND l.error IS NOT NULL
        ORDER BY l.started_at DESC LIMIT 1
    ) last ON true
    WHERE dst.org = :org
    GROUP BY dst.id, last.error, last.started_at
    ORDER BY dst.name
    """
)

# Open deliveries of the org (the partial index deliveries_due covers the pending ones).
_OPEN = text(
    """
    SELECT count(*) FILTER (WHERE d.status = 'pending') AS pending,
           count(*) FILTER (WHERE d.status = 'delivering') AS delivering,
           min(d.next_attempt_at) FILTER (WHERE d.status = 'pending') AS oldest_due
    FROM deliveries d
    JOIN events e ON e.id = d.event_id
    WHERE d.status IN ('pending', 'delivering') AND e.org = :org
    """
)


def attempts_per_minute(conn: Connection, org: str, since: datetime) -> list[MinuteCount]:
    rows = conn.execute(_PER_MINUTE, {"org": org, "since": since}).mappings()
    return [MinuteCount.model_validate(row) for row in rows]


def destination_health(conn: Connection, org: str, since: datetime) -> list[DestinationHealth]:
    rows = conn.execute(_HEALTH, {"org": org, "since": since}).mappings()
    return [DestinationHealth.model_validate(row) for row in rows]


def open_deliveries(conn: Connection, org: str) -> tuple[int, int, datetime | None]:
    """(pending, delivering, when the oldest pending one became due)."""
    row = conn.execute(_OPEN, {"org": org}).one()
    return int(row.pending), int(row.delivering), row.oldest_due
