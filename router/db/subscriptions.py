"""Subscriptions: every statement the control plane runs on them and on their links to
channels and destinations. Scoped to one org; a taken name makes an insert do nothing and
say so (``None``). Rules and people are stored as given: the services check them first.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, text

from eventrouter.router.models.configuration import Subscription
from eventrouter.router.models.rules import Rules

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
