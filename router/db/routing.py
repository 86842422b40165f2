"""What the router reads to route: the config version, and the routing table behind it.

Every change to channels, destinations or subscriptions bumps ``config_version`` (a
statement trigger, migration 0001), so a router polls one integer and reloads the
table only when it moved.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text

from eventrouter.router.models.rules import Rules
from eventrouter.router.people.recipients import Recipients, parse_recipients
from eventrouter.router.routing import ChannelRule, RoutingTable, SilenceRule, SubscriptionRule

CONFIG_VERSION = text("SELECT version FROM config_version WHERE id = 1")

ROUTING_CHANNELS = text("SELECT id, org, env, pattern, is_system, name FROM channels")
ROUTING_SUBSCRIPTIONS = text(
    """
    SELECT s.id, s.org, s.env, s.enabled, s.rules, s.users, s.mandatory,
           COALESCE(array_agg(DISTINCT sc.channel_id)
                    FILTER (WHERE sc.channel_id IS NOT NULL), '{}') AS channel_ids,
           COALESCE(array_agg(DISTINCT sd.destination_id)
                    FILTER (WHERE sd.destination_id IS NOT NULL), '{}') AS destination_ids
    FROM subscriptions s
    LEFT JOIN subscription_channels sc ON sc.subscription_id = s.id
    LEFT JOIN subscription_destinations sd ON sd.subscription_id = s.id
    GROUP BY s.id
    """
)
ROUTING_ENABLED_DESTINATIONS = text("SELECT id FROM destinations WHERE enabled")
# Silences not yet expired (the scheduler marks ended ones, which bumps the version);
# whether one is active at an instant the router decides with its own clock.
ROUTING_SILENCES = text(
    """
    SELECT id, org, filter, comment, starts_at, ends_at, channel_id, every, timezone
    FROM silences WHERE expired_at IS NULL ORDER BY id
    """
)


def config_version(conn: Connection) -> int:
    return int(conn.execute(CONFIG_VERSION).scalar_one())


def load_routing_table(conn: Connection) -> RoutingTable:
    """Read channels, subscriptions and enabled destinations into a fresh table.

    Run in one transaction (repeatable read is not needed: a change made meanwhile bumps
    the version again, and the next poll reloads).
    """
    version = config_version(conn)
    channels = [
        ChannelRule(row.id, row.org, row.env, row.pattern, row.is_system, row.name)
        for row in conn.execute(ROUTING_CHANNELS)
    ]
    subscriptions = [
        SubscriptionRule(
            row.id,
            row.org,
            row.env,
            row.enabled,
            frozenset(row.channel_ids),
            frozenset(row.destination_ids),
            *_rules(row.rules),
            users=_recipients(row.users),
            mandatory=row.mandatory,
        )
        for row in conn.execute(ROUTING_SUBSCRIPTIONS)
    ]
    enabled = [row.id for row in conn.execute(ROUTING_ENABLED_DESTINATIONS)]
    silences = [SilenceRule(**row._mapping) for row in conn.execute(ROUTING_SILENCES)]
    return RoutingTable(channels, subscriptions, enabled, version=version, silences=silences)


def _recipients(stored: str | None) -> Recipients | None:
    """Stored recipients; text that no longer reads (written around the control plane)
    names no one rather than failing the table."""
    if stored is None:
        return None
    try:
        return parse_recipients(stored)
    except ValueError:
        return None


def _rules(stored: Any) -> tuple[Rules | None, None, str | None]:
    """``(rules, compiled, broken)`` for ``SubscriptionRule``: stored rules that no longer
    read (written around the control plane) are reported, not a table that fails to load."""
    if stored is None:
        return None, None, None
    try:
        return Rules.model_validate(stored), None, None
    except ValueError as exc:
        return Rules(), None, f"stored rules do not read: {str(exc).splitlines()[0]}"
