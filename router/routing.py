"""Which destinations an event goes to: compiled channels and subscriptions, no I/O.

A channel matches an event when its org is the event's org (system channels match
every org), its env is unset or equals the event's env, and its RE2 pattern matches
the whole event name. A subscription applies when it is enabled, in the event's org,
org-wide or for the event's env, and lists a matching channel; it plans one delivery
to each of its enabled destinations. Several subscriptions naming one destination
still make one delivery (the lowest subscription id is recorded).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import re2

MAX_PATTERN_LENGTH = 1000
_CACHE_LIMIT = 10_000


def compile_pattern(pattern: str) -> Any:
    """Compile a user pattern with RE2 (linear time); ``ValueError`` explains a bad one."""
    if not pattern:
        raise ValueError("pattern is empty; use e.g. 'payment:.*'")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise ValueError(f"pattern is {len(pattern)} chars; the limit is {MAX_PATTERN_LENGTH}")
    options = re2.Options()
    options.log_errors = False
    try:
        return re2.compile(pattern, options=options)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(f"invalid pattern {pattern!r}: {reason}") from None


@dataclass(frozen=True, slots=True)
class ChannelRule:
    id: int
    org: str
    env: str | None
    pattern: str
    is_system: bool = False


@dataclass(frozen=True, slots=True)
class SubscriptionRule:
    id: int
    org: str
    env: str | None
    enabled: bool
    channel_ids: frozenset[int]
    destination_ids: frozenset[int]


@dataclass(frozen=True, slots=True)
class PlannedDelivery:
    destination_id: int
    subscription_id: int


class RoutingTable:
    """An immutable snapshot of the routing config; build a new one when config changes."""

    def __init__(
        self,
        channels: Iterable[ChannelRule],
        subscriptions: Iterable[SubscriptionRule],
        enabled_destinations: Iterable[int],
        version: int = 0,
    ) -> None:
        self.version = version
        self._channels: list[tuple[ChannelRule, Any]] = []
        self.broken: dict[int, str] = {}
        """Channels whose stored pattern does not compile (written around the CLI):
        they match nothing, and the router logs why, instead of refusing to route."""
        for rule in channels:
            try:
                self._channels.append((rule, compile_pattern(rule.pattern)))
            except ValueError as exc:
                self.broken[rule.id] = str(exc)
        enabled = frozenset(enabled_destinations)
        self._subscriptions = sorted(
            (
                SubscriptionRule(
                    rule.id,
                    rule.org,
                    rule.env,
                    rule.enabled,
                    rule.channel_ids,
                    rule.destination_ids & enabled,
                )
                for rule in subscriptions
                if rule.enabled
            ),
            key=lambda rule: rule.id,
        )
        self._cache: dict[tuple[str, str | None, str], tuple[PlannedDelivery, ...]] = {}

    @classmethod
    def empty(cls) -> RoutingTable:
        return cls((), (), (), version=-1)

    def matching_channels(self, name: str, org: str, env: str | None) -> frozenset[int]:
        return frozenset(
            rule.id
            for rule, compiled in self._channels
            if (rule.is_system or rule.org == org)
            and (rule.env is None or rule.env == env)
            and compiled.fullmatch(name) is not None
        )

    def plan(self, name: str, org: str, env: str | None) -> tuple[PlannedDelivery, ...]:
        """The deliveries for an event; cached per (org, env, name), as names repeat."""
        key = (org, env, name)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        channels = self.matching_channels(name, org, env)
        planned: dict[int, PlannedDelivery] = {}
        if channels:
            for sub in self._subscriptions:
                if sub.org != org or (sub.env is not None and sub.env != env):
                    continue
                if sub.channel_ids.isdisjoint(channels):
                    continue
                for destination_id in sorted(sub.destination_ids):
                    planned.setdefault(destination_id, PlannedDelivery(destination_id, sub.id))
        result = tuple(planned.values())
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[key] = result
        return result
