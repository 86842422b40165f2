"""Configuration as code, the pure core: read a routing file, check it, diff it against what
is stored, and say what applying it would change. No I/O: the file's text, the environment's
secrets and the stored configuration come in as values (``configuration.py`` fetches them and
writes the plan in one transaction).

A routing file names channels, destinations and subscriptions by name::

    channels:
      payments: {pattern: "payment:.*", description: all payment events}
    destinations:
      ops-hook:
        type: webhook
        url: https://ops.example.com/hooks/events
        headers: {Authorization: "${env:OPS_HOOK_TOKEN}"}
        retry_schedule: 10s,1m,10m
    subscriptions:
      payments-to-ops:
        channels: [payments]
        destinations: [ops-hook]
        rules: {filter: "payload.amount > 100", repeat_interval: 1h}
        users: role:admin
    people: {email_via: ops-mail}

A subscription in a file is the whole subscription: its rules, ``users`` and ``mandatory``
are what the file says (omitted: none, none, false), as its channels and env are; only
``enabled`` is left as stored when omitted, because routers and people flip it at run time.

Secrets are given by reference (``${env:NAME}``, or ``{secret_file: path}``); the loader puts
their values in and remembers the reference, which ``export`` writes back instead of the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from eventrouter.router.control.routing_secrets import SecretResolver, resolve_secrets
from eventrouter.router.control.routing_source import Path, Problem, Source
from eventrouter.router.control.subscriptions import check_rules, merged_rules
from eventrouter.router.control.validation import check_env, check_object_name
from eventrouter.router.destinations import KINDS, validate_config
from eventrouter.router.durations import format_duration, parse_schedule
from eventrouter.router.errors import ConfigError
from eventrouter.router.people.recipients import parse_recipients
from eventrouter.router.routing import compile_pattern

SECTIONS = ("channels", "destinations", "subscriptions")
SETTINGS = ("people",)
"""Top-level settings of the org (not named objects)."""
INTERNAL_KEYS = ("previous_secrets",)
"""Destination config eventrouter keeps itself (a rotation's old secrets): never in a file."""

_CHANNEL_KEYS = {"pattern", "env", "description"}
_SUBSCRIPTION_KEYS = {"channels", "destinations", "env", "enabled", "rules", "users", "mandatory"}
_PEOPLE_KEYS = {"email_via", "slack_via"}
_DESTINATION_OWN_KEYS = {"type", "retry_schedule", "enabled"}


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    name: str
    pattern: str
    env: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class DestinationSpec:
    name: str
    type: str
    config: dict[str, Any]
    """Validated and normalised by the kind's model; secrets in clear."""
    retry_schedule: str | None = None
    enabled: bool | None = None
    """``None``: the file does not say (stays as it is; new ones are enabled)."""
    secret_refs: dict[str, Any] = field(default_factory=dict)
    """Dotted config path → the reference the secret came from (``${env:X}`` or
    ``{"secret_file": path}``)."""


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    name: str
    channels: tuple[str, ...]
    destinations: tuple[str, ...]
    env: str | None = None
    enabled: bool | None = None
    rules: dict[str, Any] = field(default_factory=dict)
    """The rule fields that differ from their defaults, as stored (``{}``: no rules)."""
    users: str | None = None
    """Who it notifies besides its destinations, normalised (``role:admin,a@example.com``)."""
    mandatory: bool = False


@dataclass(frozen=True, slots=True)
class PeopleSpec:
    """The destinations that carry people's notifications, by name (``None``: no medium)."""

    email_via: str | None = None
    slack_via: str | None = None


@dataclass(slots=True)
class Routing:
    """A whole configuration: what a file asks for, or what an org has."""

    channels: dict[str, ChannelSpec] = field(default_factory=dict)
    destinations: dict[str, DestinationSpec] = field(default_factory=dict)
    subscriptions: dict[str, SubscriptionSpec] = field(default_factory=dict)
    people: PeopleSpec | None = None
    """``None``: the files do not say (what an org has is never ``None``)."""
    named: set[Path] = field(default_factory=set)
    """``(section, name)`` of everything a file names, valid or not (a subscription naming
    an invalid destination gets no second problem about it)."""
    places: dict[Path, tuple[str, int | None]] = field(default_factory=dict)
    """Where each value came from (file, line), for problems found later."""

    def problem(self, path: Path, message: str) -> Problem:
        for end in range(len(path), -1, -1):
            if path[:end] in self.places:
                return Problem(*self.places[path[:end]], path, message)
        return Problem("routing file", None, path, message)


def read(sources: Iterable[Source], resolve: SecretResolver) -> tuple[Routing, list[Problem]]:
    """Everything the files ask for, checked as far as it can be without the database: names,
    patterns, envs, each destination's config by its kind's model, retry schedules, secret
    references. Every problem is collected; none stops the others from being found."""
    routing = Routing()
    problems: list[Problem] = []
    people_seen = False
    for source in sources:
        routing.places.update({p: (source.name, line) for p, line in source.lines.items()})
        data = source.data
        if not isinstance(data, dict):
            problems.append(source.problem((), "a routing file is a mapping of " + ", ".join(_TOP)))
            continue
        for key in data:
            if key not in _TOP:
                problems.append(source.problem((key,), f"unknown section; use {', '.join(_TOP)}"))
        if "people" in data:
            if people_seen:
                problems.append(source.problem(("people",), "named in two files"))
            people_seen = True
            routing.people = _read_people(data["people"], source, problems)
        for section in SECTIONS:
            entries = data.get(section) or {}
            if not isinstance(entries, dict):
                problems.append(source.problem((section,), "must map names to their settings"))
                continue
            for name, body in entries.items():
                path = (section, name)
                routing.named.add(path)
                here = len(problems)
                if name in getattr(routing, section):
                    problems.append(source.problem(path, "named in two files"))
                    continue
                try:
                    check_object_name(section[:-1], name)
                except ConfigError as exc:
                    problems.append(source.problem(path, str(exc)))
                if not isinstance(body, dict):
                    problems.append(source.problem(path, "must be a mapping of settings"))
                    continue
                reader = _READERS[section]
                spec = reader(name, body, path, source, problems, resolve)
                if spec is not None and len(problems) == here:
                    getattr(routing, section)[name] = spec
    return routing, problems


_TOP = (*SECTIONS, *SETTINGS)


def _unknown(
    body: Mapping[str, Any], allowed: set[str], path: Path, source: Source, problems: list[Problem]
) -> None:
    for key in body:
        if key not in allowed:
            problems.append(
                source.problem((*path, key), f"unknown setting; use {', '.join(sorted(allowed))}")
            )


def _env(
    body: Mapping[str, Any], path: Path, source: Source, problems: list[Problem]
) -> str | None:
    env = body.get("env")
    if env is None:
        return None
    try:
        return check_env(str(env))
    except ConfigError as exc:
        problems.append(source.problem((*path, "env"), str(exc)))
        return None


def _read_channel(
    name: str,
    body: dict[str, Any],
    path: Path,
    source: Source,
    problems: list[Problem],
    _resolve: SecretResolver,
) -> ChannelSpec | None:
    _unknown(body, _CHANNEL_KEYS, path, source, problems)
    pattern = body.get("pattern")
    if not isinstance(pattern, str):
        problems.append(source.problem((*path, "pattern"), "a channel needs a pattern (RE2 text)"))
        return None
    try:
        compile_pattern(pattern)
    except ValueError as exc:
        problems.append(source.problem((*path, "pattern"), str(exc)))
    env = _env(body, path, source, problems)
    return ChannelSpec(name, pattern, env, str(body.get("description") or ""))


def _names(
    body: Mapping[str, Any],
    key: str,
    path: Path,
    source: Source,
    problems: list[Problem],
    *,
    may_be_empty: bool = False,
) -> tuple[str, ...]:
    value = body.get(key)
    if isinstance(value, str):
        value = [value]
    if may_be_empty and value in (None, []):
        return ()
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        also = " (or users)" if key == "destinations" else ""
        problems.append(source.problem((*path, key), f"a subscription needs a list of {key}{also}"))
        return ()
    return tuple(dict.fromkeys(value))


def _enabled(
    body: Mapping[str, Any], path: Path, source: Source, problems: list[Problem]
) -> bool | None:
    enabled = body.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        problems.append(source.problem((*path, "enabled"), "must be true or false"))
        return None
    return enabled


def _read_subscription(
    name: str,
    body: dict[str, Any],
    path: Path,
    source: Source,
    problems: list[Problem],
    _resolve: SecretResolver,
) -> SubscriptionSpec | None:
    _unknown(body, _SUBSCRIPTION_KEYS, path, source, problems)
    users = _users(body.get("users"), (*path, "users"), source, problems)
    channels = _names(body, "channels", path, source, problems)
    destinations = _names(
        body, "destinations", path, source, problems, may_be_empty="users" in body
    )
    mandatory = body.get("mandatory", False)
    if not isinstance(mandatory, bool):
        problems.append(source.problem((*path, "mandatory"), "must be true or false"))
    return SubscriptionSpec(
        name,
        channels,
        destinations,
        _env(body, path, source, problems),
        _enabled(body, path, source, problems),
        rules=_rules(body.get("rules"), (*path, "rules"), source, problems),
        users=users,
        mandatory=mandatory is True,
    )


def _rules(value: Any, path: Path, source: Source, problems: list[Problem]) -> dict[str, Any]:
    """The rule fields that differ from their defaults, checked as ``subscriptions add``
    checks its flags (with its messages), each problem placed at its field."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(source.problem(path, "must be a mapping of rule settings"))
        return {}
    try:
        rules = merged_rules(None, value)
        check_rules(rules)
    except ConfigError as exc:
        problems.append(source.problem((*path[:-1], *(exc.field or ("rules",))), str(exc)))
        return {}
    return {} if rules is None else rules.model_dump(mode="json", exclude_defaults=True)


def _users(value: Any, path: Path, source: Source, problems: list[Problem]) -> str | None:
    """``users`` (a string, or a list of items) normalised as ``--users`` is; whether each
    email is a user of the org is checked with what is stored (``routing_plan``)."""
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        value = ",".join(value)
    if not isinstance(value, str):
        problems.append(source.problem(path, "must be all, role:ROLE and emails (a list or text)"))
        return None
    try:
        return parse_recipients(value).spec()
    except ValueError as exc:
        problems.append(source.problem(path, str(exc)))
        return None


def _read_people(value: Any, source: Source, problems: list[Problem]) -> PeopleSpec | None:
    """``people: {email_via, slack_via}``; a medium not given is none. Whether each names
    a destination of the right kind is checked against the file and what is stored."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        problems.append(source.problem(("people",), "must be a mapping: email_via, slack_via"))
        return None
    here = len(problems)
    _unknown(value, _PEOPLE_KEYS, ("people",), source, problems)
    for key in _PEOPLE_KEYS:
        if value.get(key) is not None and not isinstance(value[key], str):
            problems.append(source.problem(("people", key), "must name a destination"))
    if len(problems) > here:
        return None
    return PeopleSpec(value.get("email_via"), value.get("slack_via"))


def _read_destination(
    name: str,
    body: dict[str, Any],
    path: Path,
    source: Source,
    problems: list[Problem],
    resolve: SecretResolver,
) -> DestinationSpec | None:
    kind = body.get("type")
    if kind not in KINDS:
        problems.append(source.problem((*path, "type"), f"type must be one of {', '.join(KINDS)}"))
        return None
    schedule = body.get("retry_schedule")
    if schedule is not None:
        try:
            schedule = ",".join(format_duration(d) for d in parse_schedule(str(schedule)))
        except ValueError as exc:
            problems.append(source.problem((*path, "retry_schedule"), str(exc)))
    raw = {k: v for k, v in body.items() if k not in _DESTINATION_OWN_KEYS}
    refs: dict[str, Any] = {}
    unresolved = len(problems)
    config = resolve_secrets(raw, path, (), source, problems, resolve, refs)
    if len(problems) > unresolved:
        return None  # its config is checked once its secrets can be read
    try:
        model = validate_config(str(kind), config)
    except ConfigError as exc:
        problems.append(source.problem(_where(exc, path), str(exc)))
        return None
    stored = model.model_dump(mode="json", exclude_none=True)
    return DestinationSpec(
        name, str(kind), stored, schedule, _enabled(body, path, source, problems), refs
    )


def _where(exc: ConfigError, path: Path) -> Path:
    """The config field a kind's validation error names (``… destination url: …``)."""
    match = re.match(r"invalid \w+ destination ([\w.]+):", str(exc))
    return (*path, *match.group(1).split(".")) if match else path


_READERS: dict[str, Callable[..., Any]] = {
    "channels": _read_channel,
    "destinations": _read_destination,
    "subscriptions": _read_subscription,
}
