"""Channels: named RE2 patterns over event names."""

from __future__ import annotations

from collections.abc import Sequence

from eventrouter.router.control.caller import Role
from eventrouter.router.control.service import Service
from eventrouter.router.control.validation import check_env, check_object_name
from eventrouter.router.db import config as store
from eventrouter.router.errors import ConfigError, Conflict, NotFound
from eventrouter.router.models.configuration import Channel, ChannelIn, ChannelUpdate, PatternTest
from eventrouter.router.routing import compile_pattern

MAX_TESTED_NAMES = 50
"""Names one pattern test looks at (the tester is for people typing)."""


def no_channel(*names: str) -> NotFound:
    return NotFound(
        f"no channel named {', '.join(map(repr, names))}; see 'eventrouter channels list'"
    )


class Channels(Service):
    def list(self) -> list[Channel]:
        """The org's channels, the built-in system channels first."""
        self.caller.require(Role.VIEWER, "listing channels")
        with self.transaction() as conn:
            return store.list_channels(conn, self.org)

    def get(self, name: str) -> Channel:
        self.caller.require(Role.VIEWER, "reading a channel")
        with self.transaction() as conn:
            found = store.list_channels(conn, self.org, name)
        if not found:
            raise no_channel(name)
        return found[0]

    def test_pattern(self, pattern: str, names: Sequence[str]) -> PatternTest:
        """Which of ``names`` the pattern matches: RE2 full match, compiled as the router
        compiles it, so what the tester says is what routing will do."""
        self.caller.require(Role.VIEWER, "testing a channel pattern")
        try:
            compiled = compile_pattern(pattern)
        except ValueError as exc:
            return PatternTest(pattern=pattern, error=str(exc))
        tried = [name for name in names[:MAX_TESTED_NAMES] if name]
        return PatternTest(
            pattern=pattern,
            matches={name: compiled.fullmatch(name) is not None for name in tried},
        )

    def add(self, spec: ChannelIn) -> Channel:
        self.caller.require(Role.ADMIN, "adding a channel")
        check_object_name("channel", spec.name)
        check_env(spec.env)
        try:
            compile_pattern(spec.pattern)
        except ValueError as exc:
            raise ConfigError(str(exc), field=("pattern",)) from None
        with self.transaction() as conn:
            taken = store.find_channels(conn, self.org, [spec.name]).get(spec.name)
            if taken is not None and taken.is_system:
                raise Conflict(
                    f"channel name {spec.name!r} is reserved for the built-in system channel; "
                    f"subscribe to it directly (--channel {spec.name}) or pick another name"
                )
            new_id = store.insert_channel(
                conn, self.org, spec.name, spec.pattern, spec.env, spec.description
            )
            if new_id is None:
                raise Conflict(
                    f"channel {spec.name!r} already exists; pick another name", field=("name",)
                )
            return store.list_channels(conn, self.org, spec.name)[0]

    def update(self, name: str, change: ChannelUpdate) -> Channel:
        """Change a channel in place: its subscriptions keep it, and running routers match
        the new pattern from their next config refresh (no gap, no restart)."""
        self.caller.require(Role.ADMIN, "changing a channel")
        with self.transaction() as conn:
            current = store.list_channels(conn, self.org, name)
            if not current:
                raise no_channel(name)
            channel = current[0]
            if channel.is_system:
                raise ConfigError(f"channel {name!r} is a built-in system channel and read-only")
            given = change.model_fields_set
            pattern = change.pattern if change.pattern is not None else channel.pattern
            env = change.env if "env" in given else channel.env
            description = (
                change.description if change.description is not None else channel.description
            )
            check_env(env)
            try:
                compile_pattern(pattern)
            except ValueError as exc:
                raise ConfigError(str(exc), field=("pattern",)) from None
            store.update_channel(conn, channel.id, pattern, env, description)
            return store.list_channels(conn, self.org, name)[0]

    def remove(self, name: str) -> None:
        """Remove a channel no subscription uses (system channels are read-only)."""
        self.caller.require(Role.ADMIN, "removing a channel")
        with self.transaction() as conn:
            channel = store.find_channels(conn, self.org, [name]).get(name)
            if channel is None:
                raise no_channel(name)
            if channel.is_system:
                raise ConfigError(f"channel {name!r} is a built-in system channel and read-only")
            users = store.channel_users(conn, channel.id)
            if users:
                raise ConfigError(
                    f"channel {name!r} is used by subscription(s) {', '.join(users)}; "
                    "remove those first"
                )
            store.delete_channel(conn, channel.id)
