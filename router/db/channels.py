"""Channels: every statement the control plane runs on them.

Scoped to one org (system channels belong to every org and are read-only); a name taken in
the org makes an insert do nothing and say so (``None``), so "already exists" needs no
check-then-insert race. Routers reload after any change through ``config_version``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

from eventrouter.router.models.configuration import Channel

_INSERT_CHANNEL = text(
    """
    INSERT INTO channels (org, env, name, pattern, description)
    VALUES (:org, :env, :name, :pattern, :description)
    ON CONFLICT (org, name) DO NOTHING
    RETURNING id
    """
)
# System channels belong to every org; they are listed first.
_LIST_CHANNELS = text(
    """
    SELECT c.id, c.name, c.pattern, c.env, c.description, c.is_system, c.created_at,
           COALESCE(array_agg(s.name ORDER BY s.name) FILTER (WHERE s.name IS NOT NULL), '{}')
               AS subscriptions
    FROM channels c
    LEFT JOIN subscription_channels sc ON sc.channel_id = c.id
    LEFT JOIN subscriptions s ON s.id = sc.subscription_id
    WHERE (c.org = :org OR c.is_system)
      AND (CAST(:name AS text) IS NULL OR c.name = CAST(:name AS text))
    GROUP BY c.id
    ORDER BY c.is_system DESC, c.name
    """
)
_FIND_CHANNELS = text(
    """
    SELECT id, name, is_system FROM channels
    WHERE name = ANY(CAST(:names AS text[])) AND (org = :org OR is_system)
    """
)
_CHANNEL_USERS = text(
    """
    SELECT s.name FROM subscription_channels sc JOIN subscriptions s ON s.id = sc.subscription_id
    WHERE sc.channel_id = :id ORDER BY s.name
    """
)
_DELETE_CHANNEL = text("DELETE FROM channels WHERE id = :id")
# One statement, so a router reloading between two changes never sees half an edit.
_UPDATE_CHANNEL = text(
    """
    UPDATE channels SET pattern = :pattern, env = :env, description = :description
    WHERE id = :id AND NOT is_system
    """
)


def insert_channel(
    conn: Connection, org: str, name: str, pattern: str, env: str | None, description: str
) -> int | None:
    """The new channel's id, or ``None`` when ``name`` is taken in ``org``."""
    params = {"org": org, "name": name, "pattern": pattern, "env": env, "description": description}
    found = conn.execute(_INSERT_CHANNEL, params).scalar()
    return None if found is None else int(found)


def list_channels(conn: Connection, org: str, name: str | None = None) -> list[Channel]:
    rows = conn.execute(_LIST_CHANNELS, {"org": org, "name": name})
    return [Channel.model_validate(row._mapping) for row in rows]


@dataclass(frozen=True, slots=True)
class ChannelRef:
    id: int
    name: str
    is_system: bool


def find_channels(conn: Connection, org: str, names: Sequence[str]) -> dict[str, ChannelRef]:
    """The channels of ``org`` (and the system ones) among ``names``, by name."""
    rows = conn.execute(_FIND_CHANNELS, {"names": list(names), "org": org})
    return {row.name: ChannelRef(row.id, row.name, row.is_system) for row in rows}


def channel_users(conn: Connection, channel_id: int) -> list[str]:
    """Names of the subscriptions that use the channel."""
    return [row.name for row in conn.execute(_CHANNEL_USERS, {"id": channel_id})]


def delete_channel(conn: Connection, channel_id: int) -> None:
    conn.execute(_DELETE_CHANNEL, {"id": channel_id})


def update_channel(
    conn: Connection, channel_id: int, pattern: str, env: str | None, description: str
) -> None:
    params = {"id": channel_id, "pattern": pattern, "env": env, "description": description}
    conn.execute(_UPDATE_CHANNEL, params)
