"""Configuration as code: ``apply`` a routing file (or a directory of them) and ``export``
what an org has. The checking and diffing is pure (``routing_plan``); this service brings
the files' secrets in, reads what is stored, and writes the plan in one transaction.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from eventrouter.router.control import routing_export, routing_file, routing_plan
from eventrouter.router.control.caller import Role
from eventrouter.router.control.destinations import Destinations
from eventrouter.router.control.routing_secrets import ENV_REFERENCE
from eventrouter.router.control.routing_source import Problem, parse
from eventrouter.router.control.service import Service
from eventrouter.router.db import channels as channel_store
from eventrouter.router.db import destinations as destination_store
from eventrouter.router.db import people as people_store
from eventrouter.router.db import subscriptions as subscription_store
from eventrouter.router.db import users as users_store
from eventrouter.router.db.destination_state import cancel_open_deliveries
from eventrouter.router.errors import ConfigError
from eventrouter.router.models.rules import Rules
from eventrouter.router.people.recipients import parse_recipients


class Configuration(Service):
    def plan(self, files: Sequence[tuple[str, str]], *, prune: bool = False) -> routing_plan.Plan:
        """What applying ``files`` (``(name, text)`` pairs) would change; ``RoutingFileError``
        lists every problem. Nothing is written."""
        self.caller.require(Role.VIEWER, "planning a routing change")
        desired, problems = self._read(files)
        with self.transaction() as conn:
            return self._plan(conn, desired, problems, prune)

    def apply(self, files: Sequence[tuple[str, str]], *, prune: bool = False) -> routing_plan.Plan:
        """Make the org's configuration what ``files`` say, in one transaction: all of it, or
        (on any problem) nothing. Running routers follow at their next refresh."""
        self.caller.require(Role.ADMIN, "applying a routing file")
        desired, problems = self._read(files)
        destinations = Destinations(self.engine, self.settings, self.caller)
        for spec in desired.destinations.values():
            destinations.check_reachable(spec.config)
        with self.transaction() as conn:
            plan = self._plan(conn, desired, problems, prune)
            self._write(conn, plan, destinations)
        return plan

    def export(self) -> str:
        """The org's configuration as a routing file; secrets as references, never values."""
        self.caller.require(Role.VIEWER, "exporting the configuration")
        with self.transaction() as conn:
            current = self._current(conn)
        return routing_export.dump(routing_export.document(current))

    # -- reading ---------------------------------------------------------------------------
    def _read(self, files: Sequence[tuple[str, str]]) -> tuple[routing_file.Routing, list[Problem]]:
        sources, problems = [], []
        for name, text in files:
            source, found = parse(text, name)
            problems += found
            if source is not None:
                sources.append(source)
        desired, found = routing_file.read(sources, resolve_secret)
        return desired, problems + found

    def _plan(
        self,
        conn: Connection,
        desired: routing_file.Routing,
        problems: list[Problem],
        prune: bool,
    ) -> routing_plan.Plan:
        system = [c.name for c in channel_store.list_channels(conn, self.org) if c.is_system]
        named = {
            email
            for s in desired.subscriptions.values()
            if s.users is not None
            for email in parse_recipients(s.users).emails
        }
        return routing_plan.plan(
            desired,
            self._current(conn),
            prune=prune,
            system_channels=system,
            problems=problems,
            users=[e for e in named if users_store.find_user(conn, self.org, e) is not None],
        )

    def _current(self, conn: Connection) -> routing_file.Routing:
        current = routing_file.Routing()
        for c in channel_store.list_channels(conn, self.org):
            if not c.is_system:
                current.channels[c.name] = routing_file.ChannelSpec(
                    c.name, c.pattern, c.env, c.description
                )
        destinations = Destinations(self.engine, self.settings, self.caller)
        for d in destination_store.list_destinations(conn, self.org):
            current.destinations[d.name] = routing_file.DestinationSpec(
                d.name,
                d.kind,
                destinations.revealed(d.config),
                d.retry_schedule,
                d.enabled,
                destination_store.secret_refs(conn, d.id),
            )
        for s in subscription_store.list_subscriptions(conn, self.org):
            current.subscriptions[s.name] = routing_file.SubscriptionSpec(
                s.name,
                tuple(s.channels),
                tuple(s.destinations),
                s.env,
                s.enabled,
                rules=s.rules.model_dump(mode="json", exclude_defaults=True) if s.rules else {},
                users=s.users,
                mandatory=s.mandatory,
            )
        people = people_store.settings(conn, self.org)
        current.people = routing_file.PeopleSpec(people.email_via, people.slack_via)
        return current

    # -- writing ---------------------------------------------------------------------------
    def _write(self, conn: Connection, plan: routing_plan.Plan, destinations: Destinations) -> None:
        """Channels and destinations first, then the subscriptions that link them, then what
        ``--prune`` removes (subscriptions before what they link)."""
        desired = plan.desired
        for name in plan.of("add", "channel"):
            c = desired.channels[name]
            channel_store.insert_channel(conn, self.org, c.name, c.pattern, c.env, c.description)
        changed = {
            name: channel_store.find_channels(conn, self.org, [name])[name].id
            for name in plan.of("change", "channel")
        }
        for name, channel_id in changed.items():
            c = desired.channels[name]
            channel_store.update_channel(conn, channel_id, c.pattern, c.env, c.description)
        for name in plan.of("add", "destination"):
            d = desired.destinations[name]
            created = destination_store.insert_destination(
                conn,
                self.org,
                d.name,
                d.type,
                destinations.sealed(d.type, d.config),
                d.retry_schedule,
            )
            if created is None:
                raise ConfigError(f"destination {name!r} was added meanwhile; apply again")
            self._finish_destination(conn, created[0], d)
        for name in plan.of("change", "destination"):
            d = desired.destinations[name]
            row = destination_store.lock_destination(conn, self.org, name)
            if row is None:
                raise ConfigError(f"destination {name!r} was removed meanwhile; apply again")
            kept = {
                k: v
                for k, v in destinations.revealed(row.config).items()
                if k in routing_file.INTERNAL_KEYS
            }
            config = {**d.config, **kept}
            destination_store.update_destination(
                conn, row.id, destinations.sealed(d.type, config), d.retry_schedule
            )
            self._finish_destination(conn, row.id, d)
        for name in (*plan.of("add", "subscription"), *plan.of("change", "subscription")):
            self._write_subscription(conn, desired.subscriptions[name])
        if plan.people is not None and plan.of("change", "people"):
            self._write_people(conn, plan.people)
        for name in plan.of("remove", "subscription"):
            subscription_store.delete_subscription(conn, self.org, name)
        for name in plan.of("remove", "destination"):
            (row,) = destination_store.list_destinations(conn, self.org, [name])
            subscription_store.unlink_destination(conn, row.id)
            cancel_open_deliveries(conn, row.id, "destination removed")
            destination_store.delete_destination(conn, row.id)
        for name in plan.of("remove", "channel"):
            channel_store.delete_channel(
                conn, channel_store.find_channels(conn, self.org, [name])[name].id
            )

    def _finish_destination(
        self, conn: Connection, destination_id: int, d: routing_file.DestinationSpec
    ) -> None:
        destination_store.set_secret_refs(conn, destination_id, d.secret_refs)
        if d.enabled is not None:
            destination_store.set_destination_enabled(
                conn, self.org, d.name, d.enabled, "disabled by a routing file"
            )
            if not d.enabled:
                cancel_open_deliveries(conn, destination_id, "destination disabled")

    def _write_subscription(self, conn: Connection, s: routing_file.SubscriptionSpec) -> None:
        channels = channel_store.find_channels(conn, self.org, s.channels)
        destinations = {
            d.name: d.id
            for d in destination_store.list_destinations(conn, self.org, s.destinations)
        }
        channel_ids = [channels[n].id for n in s.channels]
        destination_ids = [destinations[n] for n in s.destinations]
        rules = Rules.model_validate(s.rules) if s.rules else None
        subscription_id = subscription_store.lock_subscription(conn, self.org, s.name)
        if subscription_id is None:
            subscription_store.insert_subscription(
                conn,
                self.org,
                s.name,
                s.env,
                channel_ids,
                destination_ids,
                rules,
                users=s.users,
                mandatory=s.mandatory,
            )
        else:
            subscription_store.replace_subscription_links(
                conn, subscription_id, channel_ids, destination_ids
            )
            subscription_store.set_subscription_env(conn, subscription_id, s.env)
            subscription_store.set_subscription_rules(conn, subscription_id, rules)
            subscription_store.set_subscription_people(conn, subscription_id, s.users, s.mandatory)
        if s.enabled is not None:
            subscription_store.set_subscription_enabled(conn, self.org, s.name, s.enabled)

    def _write_people(self, conn: Connection, people: routing_file.PeopleSpec) -> None:
        """Both media, as the plan checked them (a medium not given is none)."""
        names = [n for n in (people.email_via, people.slack_via) if n is not None]
        ids = {d.name: d.id for d in destination_store.list_destinations(conn, self.org, names)}
        people_store.save_settings(
            conn,
            self.org,
            email_via=ids[people.email_via] if people.email_via else None,
            slack_via=ids[people.slack_via] if people.slack_via else None,
            set_email=True,
            set_slack=True,
        )


def resolve_secret(reference: Any, where: tuple[str, ...]) -> tuple[Any, str | None]:
    """The value behind ``${env:NAME}`` or ``{secret_file: path}`` (relative to the routing
    file's folder); ``(None, why)`` when there is none."""
    if isinstance(reference, str):
        match = ENV_REFERENCE.fullmatch(reference)
        assert match is not None
        value = os.environ.get(match.group(1))
        if not value:
            return None, f"environment variable {match.group(1)} (for {reference}) is not set"
        return value, None
    assert isinstance(reference, Mapping)
    path = Path(str(reference["secret_file"])).expanduser()
    if not path.is_absolute() and where and where[0] not in ("-", "<stdin>"):
        path = Path(where[0]).parent / path
    try:
        return path.read_text().strip(), None
    except OSError as exc:
        return None, f"cannot read secret_file {str(path)!r}: {exc.strerror}"
