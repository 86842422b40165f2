"""Silences as the control plane reads and writes them (the router reads them in
``db.routing``). Every write bumps the config version (a trigger, migration 0006), so
routers pick a new or expired silence up within a config refresh."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text

from eventrouter.router.models.rules import Silence

_INSERT = text(
    """
    INSERT INTO silences (org, filter, channel_id, ends_at, every, timezone, comment, created_by)
    VALUES (:org, :filter, :channel_id, :ends_at, :every, :timezone, :comment, :created_by)
    RETURNING id
    """
)
# ``active`` is the stored range only; a recurring silence is active during its windows,
# which the service works out with the same window code as the router.
_LIST = text(
    """
    SELECT s.id, s.filter, s.comment, c.name AS channel, s.starts_at, s.ends_at, s.every,
           s.timezone, s.created_by, s.created_at, s.expired_at,
           (s.expired_at IS NULL AND s.starts_at <= now()
            AND (s.ends_at IS NULL OR s.ends_at > now())) AS active
    FROM silences s LEFT JOIN channels c ON c.id = s.channel_id
    WHERE s.org = :org AND (CAST(:id AS bigint) IS NULL OR s.id = CAST(:id AS bigint))
      AND (CAST(:include_expired AS boolean) OR s.expired_at IS NULL)
    ORDER BY s.id
    """
)
# Expiring ends the range now; a silence already expired keeps its first expiry.
_EXPIRE = text(
    """
    UPDATE silences SET expired_at = now(), ends_at = LEAST(COALESCE(ends_at, now()), now())
    WHERE org = :org AND id = :id AND expired_at IS NULL
    RETURNING id
    """
)


def insert_silence(
    conn: Connection,
    org: str,
    *,
    filter: str,
    comment: str,
    channel_id: int | None,
    ends_at: datetime | None,
    every: str | None,
    timezone: str | None,
    created_by: str,
) -> int:
    params = {
        "org": org,
        "filter": filter,
        "channel_id": channel_id,
        "ends_at": ends_at,
        "every": every,
        "timezone": timezone,
        "comment": comment,
        "created_by": created_by,
    }
    return int(conn.execute(_INSERT, params).scalar_one())


def list_silences(
    conn: Connection, org: str, *, silence_id: int | None = None, include_expired: bool = False
) -> list[Silence]:
    params = {"org": org, "id": silence_id, "include_expired": include_expired}
    return [Silence.model_validate(row._mapping) for row in conn.execute(_LIST, params)]


def expire_silence(conn: Connection, org: str, silence_id: int) -> bool:
    return conn.execute(_EXPIRE, {"org": org, "id": silence_id}).scalar() is not None
