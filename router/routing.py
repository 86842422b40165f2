"""Which destinations an event goes to: compiled channels and subscriptions, no I/O.

A channel matches an event when its org is the event's org (system channels match
every org), its env is unset or equals the event's env, and its RE2 pattern matches
the whole event name. A subscription applies when it is enabled, in the event's org,
org-wide or for the event's env, and lists a matching channel; it plans one delivery
to each of its enabled destinations. Several subscriptions naming one destination
still make one delivery (the lowest subscription id is recorded).

Subscriptions with rules (``router.rules``) and silences are compiled here too, once per
config version; ``subscriptions_for`` hands the router each matching subscription with
its compiled rules, and ``silence_for`` the silence that mutes an event, if any.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import re2

from eventrouter.router.models.rules import Rules
from eventrouter.router.people.recipients import Recipients
from eventrouter.router.rules.engine import Silence
from eventrouter.router.rules.expressions import (
    Activation,
    Expression,
    ExpressionError,
    compile_expression,
)
from eventrouter.router.rules.spec import CompiledRules, compile_rules
from eventrouter.router.rules.windows import Window, parse_every, window_end

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
    name: str = ""


@dataclass(frozen=True, slots=True)
class SubscriptionRule:
    id: int
    org: str
    env: str | None
    enabled: bool
    channel_ids: frozenset[int]
    destination_ids: frozenset[int]
    rules: Rules | None = None
    compiled: CompiledRules | None = field(default=None, compare=False)
    """``rules`` compiled by the routing table."""
    broken: str | None = None
    """Why stored rules do not compile (written around the control plane): every event
    is then a ``filter_error`` with this reason, never a crash and never a delivery."""
    users: Recipients | None = None
    """The people it notifies besides its destinations (``--users``)."""
    mandatory: bool = False
    """Its people's channel opt-outs do not apply (``--mandatory``)."""


@dataclass(frozen=True, slots=True)
class SilenceRule:
    """A silence as stored: a CEL filter, an optional channel, a time range or a
    recurring window (``every`` in ``timezone``)."""

    id: int
    org: str
    filter: str
    comment: str
    starts_at: datetime
    ends_at: datetime | None = None
    channel_id: int | None = None
    every: str | None = None
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class _CompiledSilence:
    rule: SilenceRule
    filter: Expression
    window: Window | None

    def active(self, now: datetime) -> bool:
        rule = self.rule
        if now < rule.starts_at or (rule.ends_at is not None and now >= rule.ends_at):
            return False
        return self.window is None or window_end(self.window, now) is not None


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
        silences: Iterable[SilenceRule] = (),
    ) -> None:
        self.version = version
        self._channels: list[tuple[ChannelRule, Any]] = []
        self.channel_names: dict[int, str] = {}
        self.broken_silences = {}
        self.broken: dict[int, str] = {}
        """Channels whose stored pattern does not compile (written around the CLI):
        they match nothing, and the router logs why, instead of refusing to route."""
        for rule in channels:
            self.channel_names[rule.id] = rule.name
            try:
                self._channels.append((rule, compile_pattern(rule.pattern)))
            except ValueError as exc:
                self.broken[rule.id] = str(exc)
        enabled = frozenset(enabled_destinations)
        self._subscriptions = sorted(
            (
                _compiled(replace(rule, destination_ids=rule.destination_ids & enabled))
                for rule in subscriptions
                if rule.enabled
            ),
            key=lambda rule: rule.id,
        )
        self.has_rules = any(s.rules is not None for s in self._subscriptions)
        self._silences: dict[str, list[_CompiledSilence]] = {}
        for silence in silences:
            try:
                compiled = _compile_silence(silence)
            except ValueError as exc:
                self.broken_silences[silence.id] = str(exc)
                continue
            self._silences.setdefault(silence.org, []).append(compiled)
        self._cache: dict[tuple[str, str | None, str], tuple[PlannedDelivery, ...]] = {}
        self._subscription_cache: dict[
            tuple[str, str | None, str], tuple[tuple[SubscriptionRule, ...], frozenset[int]]
        ] = {}

    broken_silences: dict[int, str]

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

    def subscriptions_for(
        self, name: str, org: str, env: str | None
    ) -> tuple[tuple[SubscriptionRule, ...], frozenset[int]]:
        """The enabled subscriptions an event's channels reach (by id), and those channels;
        cached per (org, env, name) like ``plan``."""
        key = (org, env, name)
        cached = self._subscription_cache.get(key)
        if cached is not None:
            return cached
        channels = self.matching_channels(name, org, env)
        found = tuple(
            sub
            for sub in self._subscriptions
            if channels
            and sub.org == org
            and (sub.env is None or sub.env == env)
            and not sub.channel_ids.isdisjoint(channels)
        )
        if len(self._subscription_cache) >= _CACHE_LIMIT:
            self._subscription_cache.clear()
        self._subscription_cache[key] = (found, channels)
        return found, channels

    def has_silences(self, org: str) -> bool:
        return org in self._silences

    def silence_for(
        self, org: str, channels: frozenset[int], activation: Activation, now: datetime
    ) -> Silence | None:
        """The first active silence of ``org`` that matches the event (lowest id); a silence
        whose filter fails on the event does not match it."""
        for silence in self._silences.get(org, ()):
            rule = silence.rule
            if rule.channel_id is not None and rule.channel_id not in channels:
                continue
            if not silence.active(now):
                continue
            try:
                if silence.filter.test(activation):
                    return Silence(rule.id, rule.comment)
            except ExpressionError:
                continue
        return None


def _compiled(rule: SubscriptionRule) -> SubscriptionRule:
    if rule.rules is None or rule.broken is not None:
        return rule
    try:
        return replace(rule, compiled=compile_rules(rule.rules))
    except ValueError as exc:
        return replace(rule, broken=f"stored rules do not compile: {exc}")


def _compile_silence(rule: SilenceRule) -> _CompiledSilence:
    window = None
    if rule.every is not None:
        window = parse_every(rule.every, rule.timezone or "UTC")
    return _CompiledSilence(rule, compile_expression(rule.filter, "silence filter"), window)
