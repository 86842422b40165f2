"""Channels, destinations and subscriptions, as one import for the services that use all
three. The statements live by concern in ``channels``, ``destinations`` and
``subscriptions``; what spans the three (is an org configured at all?) lives here.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from eventrouter.router.db.channels import (
    ChannelRef,
    channel_users,
    delete_channel,
    find_channels,
    insert_channel,
    list_channels,
    update_channel,
)
from eventrouter.router.db.destinations import (
    StoredDestination,
    all_destination_configs,
    delete_destination,
    destination_users,
    insert_destination,
    list_destinations,
    lock_destination,
    secret_refs,
    set_destination_enabled,
    set_secret_refs,
    update_destination,
    update_destination_config,
)
from eventrouter.router.db.subscriptions import (
    delete_subscription,
    insert_subscription,
    list_subscriptions,
    lock_subscription,
    replace_subscription_links,
    set_subscription_enabled,
    set_subscription_env,
    set_subscription_people,
    set_subscription_rules,
    unlink_destination,
)

__all__ = [
    "ChannelRef",
    "StoredDestination",
    "all_destination_configs",
    "channel_users",
    "delete_channel",
    "delete_destination",
    "delete_subscription",
    "destination_users",
    "find_channels",
    "insert_channel",
    "insert_destination",
    "insert_subscription",
    "list_channels",
    "list_destinations",
    "list_subscriptions",
    "lock_destination",
    "lock_subscription",
    "org_configured",
    "replace_subscription_links",
    "secret_refs",
    "set_destination_enabled",
    "set_secret_refs",
    "set_subscription_enabled",
    "set_subscription_env",
    "set_subscription_people",
    "set_subscription_rules",
    "unlink_destination",
    "update_channel",
    "update_destination",
    "update_destination_config",
]

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
