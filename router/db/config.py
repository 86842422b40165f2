"""Channels, destinations and subscriptions: every statement the control plane runs on them.

One function per statement, typed rows in and out. Every statement is scoped to one org (a
name in another org is simply not found), and names are unique per org, enforced by the
schema: an insert that meets a taken name does nothing and says so (``None``), so the
service can answer "already exists" without a race between check and insert. Routers reload
after any change through the ``config_version`` counter the schema's triggers bump.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from eventrouter.router.models import Channel, Rules, Subscription


@dataclass(frozen=True, slots=True)
class StoredDestination:
    """A destination row as stored: its config still sealed (secrets encrypted)."""

    id: int
    name: str
    kind: str
    config: dict[str, Any]
    enabled: bool
    disabled_reason: str | None
    retry_schedule: str | None
    created_at: datetime


# -- channels ---------------------------------------------------------------------------
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


# -- destinations -----------------------------------------------------------------------
_INSERT_DESTINATION = text(
    """
    INSERT INTO destinations (org, name, kind, config, retry_schedule)
    VALUES (:org, :name, :kind, CAST(:config AS jsonb), :retry_schedule)
    ON CONFLICT (org, name) DO NOTHING
    RETURNING id, created_at
    """
)
_DESTINATION_COLUMNS = (
    "id, name, kind, config, enabled, disabled_reason, retry_schedule, created_at"
)
_LIST_DESTINATIONS = text(
    f"""
    SELECT {_DESTINATION_COLUMNS} FROM destinations
    WHERE org = :org AND (CAST(:names AS text[]) IS NULL OR name = ANY(CAST(:names AS text[])))
    ORDER BY name
    """
)
# FOR UPDATE: a secret rotation reads, changes and writes back the config in one transaction.
_LOCK_DESTINATION = text(
    f"SELECT {_DESTINATION_COLUMNS} FROM destinations WHERE org = :org AND name = :name FOR UPDATE"
)
_SET_DESTINATION_ENABLED = text(
    """
    UPDATE destinations
    SET enabled = :enabled, updated_at = now(),
        disabled_reason = CASE WHEN :enabled THEN NULL ELSE :reason END
    WHERE org = :org AND name = :name
    RETURNING id
    """
)
_DELETE_DESTINATION = text("DELETE FROM destinations WHERE id = :id")
# Config and schedule in one statement; the row (and so its deliveries and history) stays.
_UPDATE_DESTINATION = text(
    """
    UPDATE destinations
    SET config = CAST(:config AS jsonb), retry_schedule = :retry_schedule, updated_at = now()
    WHERE id = :id
    """
)
_DESTINATION_USERS = text(
    """
    SELECT s.name FROM subscription_destinations sd
    JOIN subscriptions s ON s.id = sd.subscription_id
    WHERE sd.destination_id = :id ORDER BY s.name
    """
)
# Key rotation: every org's destinations, locked, so no config is rewritten twice at once.
_ALL_DESTINATION_CONFIGS = text("SELECT id, kind, config FROM destinations ORDER BY id FOR UPDATE")
_UPDATE_DESTINATION_CONFIG = text(
    "UPDATE destinations SET config = CAST(:config AS jsonb), updated_at = now() WHERE id = :id"
)


def insert_destination(
    conn: Connection,
    org: str,
    name: str,
    kind: str,
    sealed_config: dict[str, Any],
    retry_schedule: str | None,
) -> tuple[int, datetime] | None:
    """``(id, created_at)`` of the new destination, or ``None`` when ``name`` is taken."""
    params = {
        "org": org,
        "name": name,
        "kind": kind,
        "config": json.dumps(sealed_config),
        "retry_schedule": retry_schedule,
    }
    row = conn.execute(_INSERT_DESTINATION, params).one_or_none()
    return None if row is None else (int(row.id), row.created_at)


def _stored(row: Any) -> StoredDestination:
    return StoredDestination(
        row.id,
        row.name,
        row.kind,
        row.config,
        row.enabled,
        row.disabled_reason,
        row.retry_schedule,
        row.created_at,
    )


def list_destinations(
    conn: Connection, org: str, names: Sequence[str] | None = None
) -> list[StoredDestination]:
    """``org``'s destinations by name (only ``names`` when given)."""
    rows = conn.execute(
        _LIST_DESTINATIONS, {"org": org, "names": None if names is None else list(names)}
    )
    return [_stored(row) for row in rows]


def lock_destination(conn: Connection, org: str, name: str) -> StoredDestination | None:
    row = conn.execute(_LOCK_DESTINATION, {"org": org, "name": name}).one_or_none()
    return None if row is None else _stored(row)


def set_destination_enabled(
    conn: Connection, org: str, name: str, enabled: bool, reason: str
) -> int | None:
    """The destination's id, or ``None`` when there is none by that name."""
    params = {"org": org, "name": name, "enabled": enabled, "reason": reason}
    found = conn.execute(_SET_DESTINATION_ENABLED, params).scalar()
    return None if found is None else int(found)


def delete_destination(conn: Connection, destination_id: int) -> None:
    conn.execute(_DELETE_DESTINATION, {"id": destination_id})


def update_destination(
    conn: Connection,
    destination_id: int,
    sealed_config: dict[str, Any],
    retry_schedule: str | None,
) -> None:
    params = {
        "id": destination_id,
        "config": json.dumps(sealed_config),
        "retry_schedule": retry_schedule,
    }
    conn.execute(_UPDATE_DESTINATION, params)


def destination_users(conn: Connection, destination_id: int) -> list[str]:
    """Names of the subscriptions that send to the destination."""
    return [row.name for row in conn.execute(_DESTINATION_USERS, {"id": destination_id})]


def all_destination_configs(conn: Connection) -> list[tuple[int, str, dict[str, Any]]]:
    """``(id, kind, sealed config)`` of every destination of every org, locked."""
    return [(row.id, row.kind, row.config) for row in conn.execute(_ALL_DESTINATION_CONFIGS)]


def update_destination_config(
    conn: Connection, destination_id: int, sealed_config: dict[str, Any]
) -> None:
    conn.execute(
        _UPDATE_DESTINATION_CONFIG, {"id": destination_id, "config": json.dumps(sealed_config)}
    )


# -- subscriptions ----------------------------------------------------------------------
_INSERT_SUBSCRIPTION = text(
    """
    INSERT INTO subscriptions (org, name, env, rules, users, mandatory)
    VALUES (:org, :name, :env, CAST(:rules AS jsonb), :users, :mandatory)
    ON CONFLICT (org, name) DO NOTHING
    RETURNING id
    """
)
_LINK_CHANNELS = text(
    """
    INSERT INTO subscription_channels (subscription_id, channel_id)
    SELECT :id, unnest(CAST(:channel_ids AS int[]))
    """
)
_LINK_DESTINATIONS = text(
    """
    INSERT INTO subscription_destinations (subscription_id, destination_id)
    SELECT :id, unnest(CAST(:destination_ids AS int[]))
    """
)
_LIST_SUBSCRIPTIONS = text(
    """
    SELECT s.id, s.name, s.env, s.enabled, s.created_at, s.rules, s.users, s.mandatory,
           COALESCE((SELECT array_agg(c.name ORDER BY c.name) FROM subscription_channels sc
                     JOIN channels c ON c.id = sc.channel_id
                     WHERE sc.subscription_id = s.id), '{}') AS channels,
           COALESCE((SELECT array_agg(d.name ORDER BY d.name) FROM subscription_destinations sd
                     JOIN destinations d ON d.id = sd.destination_id
                     WHERE sd.subscription_id = s.id), '{}') AS destinations
    FROM subscriptions s
    WHERE s.org = :org AND (CAST(:name AS text) IS NULL OR s.name = CAST(:name AS text))
    ORDER BY s.name
    """
)
_SET_SUBSCRIPTION_ENABLED = text(
    """
    UPDATE subscriptions SET enabled = :enabled, updated_at = now()
    WHERE org = :org AND name = :name RETURNING id
    """
)
# FOR UPDATE: an edit reads the links, changes them and writes back in one transaction.
_LOCK_SUBSCRIPTION = text(
    "SELECT id FROM subscriptions WHERE org = :org AND name = :name FOR UPDATE"
)
_SET_SUBSCRIPTION_ENV = text(
    "UPDATE subscriptions SET env = :env, updated_at = now() WHERE id = :id"
)
# Set-based replacement of the links: drop those not wanted, add those missing, so links
# that stay are never touched (and an edit that changes nothing writes nothing).
_UNLINK_OTHER_CHANNELS = text(
    """
    DELETE FROM subscription_channels
    WHERE subscription_id = :id AND NOT channel_id = ANY(CAST(:channel_ids AS int[]))
    """
)
_LINK_MISSING_CHANNELS = text(
    """
    INSERT INTO subscription_channels (subscription_id, channel_id)
    SELECT :id, unnest(CAST(:channel_ids AS int[]))
    ON CONFLICT DO NOTHING
    """
)
_UNLINK_OTHER_DESTINATIONS = text(
    """
    DELETE FROM subscription_destinations
    WHERE subscription_id = :id AND NOT destination_id = ANY(CAST(:destination_ids AS int[]))
    """
)
_LINK_MISSING_DESTINATIONS = text(
    """
    INSERT INTO subscription_destinations (subscription_id, destination_id)
    SELECT :id, unnest(CAST(:destination_ids AS int[]))
    ON CONFLICT DO NOTHING
    """
)
_UNLINK_DESTINATION_EVERYWHERE = text(
    "DELETE FROM subscription_destinations WHERE destination_id = :id"
)
_DELETE_SUBSCRIPTION = text(
    "DELETE FROM subscriptions WHERE org = :org AND name = :name RETURNING id"
)


def insert_subscription(
    conn: Connection,
    org: str,
    name: str,
    env: str | None,
    channel_ids: Sequence[int],
    destination_ids: Sequence[int],
    rules: Rules | None = None,
    *,
    users: str | None = None,
    mandatory: bool = False,
) -> int | None:
    """The new subscription's id (linked to its channels and destinations), or ``None`` when
    ``name`` is taken. ``rules`` and ``users`` are stored as given (checked by the caller)."""
    params = {
        "org": org,
        "name": name,
        "env": env,
        "rules": _rules_json(rules),
        "users": users,
        "mandatory": mandatory,
    }
    found = conn.execute(_INSERT_SUBSCRIPTION, params).scalar()
    if found is None:
        return None
    conn.execute(_LINK_CHANNELS, {"id": found, "channel_ids": list(channel_ids)})
    conn.execute(_LINK_DESTINATIONS, {"id": found, "destination_ids": list(destination_ids)})
    return int(found)


_SET_SUBSCRIPTION_RULES = text(
    """
    UPDATE subscriptions SET rules = CAST(:rules AS jsonb), updated_at = now() WHERE id = :id
    """
)


def set_subscription_rules(conn: Connection, subscription_id: int, rules: Rules | None) -> None:
    conn.execute(_SET_SUBSCRIPTION_RULES, {"id": subscription_id, "rules": _rules_json(rules)})


def _rules_json(rules: Rules | None) -> str | None:
    """Rules as stored: only what was set, so a default changed later applies to them."""
    if rules is None or rules.is_empty():
        return None
    return rules.model_dump_json(exclude_defaults=True)


def list_subscriptions(conn: Connection, org: str, name: str | None = None) -> list[Subscription]:
    rows = conn.execute(_LIST_SUBSCRIPTIONS, {"org": org, "name": name})
    return [Subscription.model_validate(row._mapping) for row in rows]


def set_subscription_enabled(conn: Connection, org: str, name: str, enabled: bool) -> bool:
    params = {"org": org, "name": name, "enabled": enabled}
    return conn.execute(_SET_SUBSCRIPTION_ENABLED, params).scalar() is not None


def delete_subscription(conn: Connection, org: str, name: str) -> bool:
    return conn.execute(_DELETE_SUBSCRIPTION, {"org": org, "name": name}).scalar() is not None


def lock_subscription(conn: Connection, org: str, name: str) -> int | None:
    found = conn.execute(_LOCK_SUBSCRIPTION, {"org": org, "name": name}).scalar()
    return None if found is None else int(found)


_SET_SUBSCRIPTION_PEOPLE = text(
    "UPDATE subscriptions SET users = :users, mandatory = :mandatory, updated_at = now() "
    "WHERE id = :id"
)


def set_subscription_people(
    conn: Connection, subscription_id: int, users: str | None, mandatory: bool
) -> None:
    params = {"id": subscription_id, "users": users, "mandatory": mandatory}
    conn.execute(_SET_SUBSCRIPTION_PEOPLE, params)


def set_subscription_env(conn: Connection, subscription_id: int, env: str | None) -> None:
    conn.execute(_SET_SUBSCRIPTION_ENV, {"id": subscription_id, "env": env})


def replace_subscription_links(
    conn: Connection,
    subscription_id: int,
    channel_ids: Sequence[int],
    destination_ids: Sequence[int],
) -> None:
    """Make the subscription's channels and destinations exactly these."""
    channels = {"id": subscription_id, "channel_ids": list(channel_ids)}
    conn.execute(_UNLINK_OTHER_CHANNELS, channels)
    conn.execute(_LINK_MISSING_CHANNELS, channels)
    destinations = {"id": subscription_id, "destination_ids": list(destination_ids)}
    conn.execute(_UNLINK_OTHER_DESTINATIONS, destinations)
    conn.execute(_LINK_MISSING_DESTINATIONS, destinations)


def unlink_destination(conn: Connection, destination_id: int) -> None:
    """Detach the destination from every subscription that names it."""
    conn.execute(_UNLINK_DESTINATION_EVERYWHERE, {"id": destination_id})


_ORG_CONFIGURED = text(
    """
    SELECT EXISTS (SELECT 1 FROM channels WHERE org = :org)
        OR EXISTS (SELECT 1 FROM destinations WHERE org = :org)
        OR EXISTS (SELECT 1 FROM subscriptions WHERE org = :org)
    """
)


def org_configured(conn: Connection, org: str) -> bool:
    """Whether ``org`` has any channel, destination or subscription of its own."""
    return bool(conn.execute(_ORG_CONFIGURED, {"org": org}).scalar())


_SECRET_REFS = text("SELECT secret_refs FROM destinations WHERE id = :id")
_SET_SECRET_REFS = text(
    "UPDATE destinations SET secret_refs = CAST(:refs AS jsonb) WHERE id = :id"
    " AND secret_refs IS DISTINCT FROM CAST(:refs AS jsonb)"
)


def secret_refs(conn: Connection, destination_id: int) -> dict[str, Any]:
    """Where the destination's secrets came from (``apply``): config path → reference."""
    found = conn.execute(_SECRET_REFS, {"id": destination_id}).scalar()
    return dict(found or {})


def set_secret_refs(conn: Connection, destination_id: int, refs: dict[str, Any]) -> None:
    conn.execute(_SET_SECRET_REFS, {"id": destination_id, "refs": json.dumps(refs)})
