"""Subscriptions: which channels go to which destinations, org-wide or for one env."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection

from eventrouter.router.control.caller import Role
from eventrouter.router.control.channels import no_channel
from eventrouter.router.control.service import Service
from eventrouter.router.control.validation import OBJECT_NAME, check_env, check_object_name
from eventrouter.router.db import config as store
from eventrouter.router.db import users as users_store
from eventrouter.router.errors import ConfigError, Conflict, NotFound
from eventrouter.router.models.configuration import Subscription, SubscriptionIn, SubscriptionUpdate
from eventrouter.router.models.rules import Rules
from eventrouter.router.people.recipients import parse_recipients
from eventrouter.router.rules.spec import compile_rules


def no_destination(*names: str) -> NotFound:
    return NotFound(
        f"no destination named {', '.join(map(repr, names))}; see 'eventrouter destinations list'"
    )


def destination_ids(conn: Connection, org: str, names: Sequence[str]) -> list[int]:
    """Ids of ``org``'s destinations named ``names``, in order; ``NotFound`` names the missing.
    A name no destination could have (a NUL byte, which Postgres text refuses) is looked
    up nowhere: it is simply missing."""
    possible = [name for name in names if OBJECT_NAME.fullmatch(name)]
    found = {d.name: d.id for d in store.list_destinations(conn, org, possible)}
    missing = [name for name in names if name not in found]
    if missing:
        raise no_destination(*missing)
    return [found[name] for name in names]


def check_rules(rules: Rules | None) -> None:
    """Refuse rules that would not compile in the router: a bad expression (with its
    position), an unknown time zone, a flag that needs another."""
    if rules is None:
        return
    try:
        compile_rules(rules)
    except ValueError as exc:
        raise ConfigError(str(exc), field=rule_field(str(exc))) from None


RULE_FLAGS = {
    "--" + ("for" if name == "for_count" else name.replace("_", "-")): name
    for name in Rules.model_fields
}
"""Each rule's CLI flag (``--group-by``) and field (``group_by``)."""


def rule_field(message: str) -> tuple[str, ...] | None:
    """The rule a message is about: the first flag it names (``("rules", "filter")``)."""
    for flag in re.findall(r"--[a-z][a-z-]*", message):
        if flag in RULE_FLAGS:
            return ("rules", RULE_FLAGS[flag])
    return None


def merged_rules(current: Rules | None, patch: dict[str, Any] | None) -> Rules | None:
    """``current`` with ``patch`` applied (null resets a field); ``ConfigError`` names an
    unknown field or a bad value."""
    fields = current.model_dump(exclude_defaults=True) if current else {}
    for field, value in (patch or {}).items():
        if value is None:
            fields.pop(field, None)
        else:
            fields[field] = value
    try:
        rules = Rules.model_validate(fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        at = ("rules", str(error["loc"][0])) if error["loc"] else None
        raise ConfigError(f"rules: {where}: {error['msg']}", field=at) from None
    return None if rules.is_empty() else rules


def checked_users(conn: Connection, org: str, spec: str | None) -> str | None:
    """``--users`` normalised; ``ConfigError`` for bad text, ``NotFound`` for an email that
    is not a user of the org (a typo would otherwise notify no one, silently)."""
    if spec is None:
        return None
    try:
        recipients = parse_recipients(spec)
    except ValueError as exc:
        raise ConfigError(str(exc), field=("users",)) from None
    missing = [e for e in sorted(recipients.emails) if users_store.find_user(conn, org, e) is None]
    if missing:
        raise no_user(*missing)
    return recipients.spec()


def no_user(*emails: str) -> NotFound:
    return NotFound(
        f"no user {', '.join(map(repr, emails))}; see 'eventrouter users list'",
        field=("users",),
    )


def no_subscription(name: str) -> NotFound:
    return NotFound(f"no subscription named {name!r}; see 'eventrouter subscriptions list'")


def edited(
    noun: str,
    current: Sequence[str],
    add: Sequence[str],
    remove: Sequence[str],
    *,
    may_be_empty: bool = False,
) -> list[str]:
    """``current`` plus ``add`` minus ``remove``; a subscription keeps at least one (a
    subscription with people may send to no destination)."""
    unknown = [name for name in remove if name not in current and name not in add]
    if unknown:
        raise ConfigError(
            f"the subscription has no {noun} {', '.join(map(repr, unknown))} to remove"
        )
    names = [n for n in dict.fromkeys([*current, *add]) if n not in set(remove)]
    if not names and not may_be_empty:
        raise ConfigError(
            f"a subscription needs at least one {noun}; add one before removing",
            field=(f"{noun}s",),
        )
    return names


class Subscriptions(Service):
    def list(self) -> list[Subscription]:
        self.caller.require(Role.VIEWER, "listing subscriptions")
        with self.transaction() as conn:
            return store.list_subscriptions(conn, self.org)

    def get(self, name: str) -> Subscription:
        self.caller.require(Role.VIEWER, "reading a subscription")
        with self.transaction() as conn:
            found = store.list_subscriptions(conn, self.org, name)
        if not found:
            raise no_subscription(name)
        return found[0]

    def add(self, spec: SubscriptionIn) -> Subscription:
        self.caller.require(Role.ADMIN, "adding a subscription")
        check_object_name("subscription", spec.name)
        check_env(spec.env)
        if not spec.channels:
            raise ConfigError("a subscription needs at least one --channel", field=("channels",))
        if not spec.destinations and spec.users is None:
            raise ConfigError(
                "a subscription needs at least one --destination or --users",
                field=("destinations",),
            )
        check_rules(spec.rules)
        channels = list(dict.fromkeys(spec.channels))
        destinations = list(dict.fromkeys(spec.destinations))
        with self.transaction() as conn:
            found = store.find_channels(conn, self.org, channels)
            missing = [name for name in channels if name not in found]
            if missing:
                raise no_channel(*missing)
            new_id = store.insert_subscription(
                conn,
                self.org,
                spec.name,
                spec.env,
                [found[name].id for name in channels],
                destination_ids(conn, self.org, destinations),
                spec.rules,
                users=checked_users(conn, self.org, spec.users),
                mandatory=spec.mandatory,
            )
            if new_id is None:
                raise Conflict(
                    f"subscription {spec.name!r} already exists; pick another name",
                    field=("name",),
                )
            return store.list_subscriptions(conn, self.org, spec.name)[0]

    def update(self, name: str, change: SubscriptionUpdate) -> Subscription:
        """Change a subscription in place: its env, and which channels and destinations it
        links (replaced, or added and removed). Deliveries already planned are untouched."""
        self.caller.require(Role.ADMIN, "changing a subscription")
        with self.transaction() as conn:
            subscription_id = store.lock_subscription(conn, self.org, name)
            if subscription_id is None:
                raise no_subscription(name)
            current = store.list_subscriptions(conn, self.org, name)[0]
            people = current.users
            if "users" in change.model_fields_set:
                people = checked_users(conn, self.org, change.users)
            channels = edited(
                "channel",
                change.channels if change.channels is not None else current.channels,
                change.add_channels,
                change.remove_channels,
            )
            destinations = edited(
                "destination",
                change.destinations if change.destinations is not None else current.destinations,
                change.add_destinations,
                change.remove_destinations,
                may_be_empty=people is not None,
            )
            found = store.find_channels(conn, self.org, channels)
            missing = [c for c in channels if c not in found]
            if missing:
                raise no_channel(*missing)
            store.replace_subscription_links(
                conn,
                subscription_id,
                [found[c].id for c in channels],
                destination_ids(conn, self.org, destinations),
            )
            if "users" in change.model_fields_set or change.mandatory is not None:
                mandatory = current.mandatory if change.mandatory is None else change.mandatory
                store.set_subscription_people(conn, subscription_id, people, mandatory)
            if "env" in change.model_fields_set:
                store.set_subscription_env(conn, subscription_id, check_env(change.env))
            if change.clear_rules or change.rules:
                rules = merged_rules(None if change.clear_rules else current.rules, change.rules)
                check_rules(rules)
                store.set_subscription_rules(conn, subscription_id, rules)
            return store.list_subscriptions(conn, self.org, name)[0]

    def set_enabled(self, name: str, enabled: bool) -> None:
        self.caller.require(Role.ADMIN, "enabling or disabling a subscription")
        with self.transaction() as conn:
            if not store.set_subscription_enabled(conn, self.org, name, enabled):
                raise no_subscription(name)

    def remove(self, name: str) -> None:
        self.caller.require(Role.ADMIN, "removing a subscription")
        with self.transaction() as conn:
            if not store.delete_subscription(conn, self.org, name):
                raise no_subscription(name)
