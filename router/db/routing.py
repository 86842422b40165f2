"""What the router reads to route: the config version, and the routing table behind it.

Every change to channels, destinations or subscriptions bumps ``config_version`` (a
statement trigger, migration 0001), so a router polls one integer and reloads the
table only when it moved.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from eventrouter.router.routing import ChannelRule, RoutingTable, SubscriptionRule

CONFIG_VERSION = text("SELECT version FROM config_version WHERE id = 1")

ROUTING_CHANNELS = text("SELECT id, org, env, pattern, is_system FROM channels")
ROUTING_SUBSCRIPTIONS = text(
    """
    SELECT s.id, s.org, s.env, s.enabled,
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


def config_version(conn: Connection) -> int:
    return int(conn.execute(CONFIG_VERSION).scalar_one())


def load_routing_table(conn: Connection) -> RoutingTable:
    """Read channels, subscriptions and enabled destinations into a fresh table.

    Run in one transaction (repeatable read is not needed: a change made meanwhile bumps
    the version again, and the next poll reloads).
    """
    version = config_version(conn)
    channels = [
        ChannelRule(row.id, row.org, row.env, row.pattern, row.is_system)
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
        )
        for row in conn.execute(ROUTING_SUBSCRIPTIONS)
    ]
    enabled = [row.id for row in conn.execute(ROUTING_ENABLED_DESTINATIONS)]
    return RoutingTable(channels, subscriptions, enabled, version=version)
