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
      payments-to-ops: {channels: [payments], destinations: [ops-hook]}

Secrets are given by reference (``${env:NAME}``, or ``{secret_file: path}``); the loader puts
their values in and remembers the reference, which ``export`` writes back instead of the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from eventrouter.router.control.validation import check_env, check_object_name
from eventrouter.router.destinations import KINDS, validate_config
from eventrouter.router.durations import format_duration, parse_schedule
from eventrouter.router.errors import ConfigError
from eventrouter.router.routing import compile_pattern

Path = tuple[str, ...]
SECTIONS = ("channels", "destinations", "subscriptions")
ENV_REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
INTERNAL_KEYS = ("previous_secrets",)
"""Destination config eventrouter keeps itself (a rotation's old secrets): never in a file."""

_CHANNEL_KEYS = {"pattern", "env", "description"}
_SUBSCRIPTION_KEYS = {"channels", "destinations", "env", "enabled"}
_DESTINATION_OWN_KEYS = {"type", "retry_schedule", "enabled"}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a routing file, where it is."""

    source: str
    line: int | None
    path: Path
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {'.'.join(self.path) or '(top)'}: {self.message}"


class RoutingFileError(ConfigError):
    """Every problem of a routing file at once (nothing was written)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"routing file not applied, {count}: " + "; ".join(map(str, problems)))


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


@dataclass(slots=True)
class Routing:
    """A whole configuration: what a file asks for, or what an org has."""

    channels: dict[str, ChannelSpec] = field(default_factory=dict)
    destinations: dict[str, DestinationSpec] = field(default_factory=dict)
    subscriptions: dict[str, SubscriptionSpec] = field(default_factory=dict)
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


# -- reading ----------------------------------------------------------------------------
@dataclass(slots=True)
class Source:
    """One file's data with the line of every value, for error messages."""

    name: str
    data: Any
    lines: dict[Path, int]

    def line(self, path: Path) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())

    def problem(self, path: Path, message: str) -> Problem:
        return Problem(self.name, self.line(path), path, message)


def parse(text: str, name: str) -> tuple[Source | None, list[Problem]]:
    """The YAML ``text`` of the file called ``name``, with line numbers; duplicate keys are
    problems (YAML would silently keep the last)."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        reason = getattr(exc, "problem", None) or str(exc)
        return None, [Problem(name, line, (), f"not valid YAML: {reason}")]
    source = Source(name, None, {})
    problems: list[Problem] = []
    source.data = _value(node, (), source, problems) if node is not None else {}
    return source, problems


def _value(node: yaml.Node, path: Path, source: Source, problems: list[Problem]) -> Any:
    source.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = str(yaml.SafeLoader(" ").construct_object(key_node))
            if key in result:
                line = key_node.start_mark.line + 1
                problems.append(Problem(source.name, line, (*path, key), "named twice"))
            result[key] = _value(value_node, (*path, key), source, problems)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _value(item, (*path, str(i)), source, problems) for i, item in enumerate(node.value)
        ]
    return yaml.SafeLoader(" ").construct_object(node)


SecretResolver = Callable[[Any, Path], tuple[Any, str | None]]
"""Resolves a secret reference: ``(value, None)``, or ``(None, why not)``."""


def read(sources: Iterable[Source], resolve: SecretResolver) -> tuple[Routing, list[Problem]]:
    """Everything the files ask for, checked as far as it can be without the database: names,
    patterns, envs, each destination's config by its kind's model, retry schedules, secret
    references. Every problem is collected; none stops the others from being found."""
    routing = Routing()
    problems: list[Problem] = []
    for source in sources:
        routing.places.update({p: (source.name, line) for p, line in source.lines.items()})
        data = source.data
        if not isinstance(data, dict):
            problems.append(
                source.problem((), "a routing file is a mapping of " + ", ".join(SECTIONS))
            )
            continue
        for key in data:
            if key not in SECTIONS:
                problems.append(
                    source.problem((key,), f"unknown section; use {', '.join(SECTIONS)}")
                )
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
    body: Mapping[str, Any], key: str, path: Path, source: Source, problems: list[Problem]
) -> tuple[str, ...]:
    value = body.get(key)
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        problems.append(source.problem((*path, key), f"a subscription needs a list of {key}"))
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
    channels = _names(body, "channels", path, source, problems)
    destinations = _names(body, "destinations", path, source, problems)
    env = _env(body, path, source, problems)
    return SubscriptionSpec(
        name, channels, destinations, env, _enabled(body, path, source, problems)
    )


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
    config = _resolve_secrets(raw, path, (), source, problems, resolve, refs)
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


def _resolve_secrets(
    node: Any,
    path: Path,
    inner: Path,
    source: Source,
    problems: list[Problem],
    resolve: SecretResolver,
    refs: dict[str, Any],
) -> Any:
    """``node`` with every ``${env:X}`` and ``{secret_file: …}`` replaced by its value."""
    if isinstance(node, dict) and set(node) == {"secret_file"}:
        return _resolved(node, path, inner, source, problems, resolve, refs)
    if isinstance(node, str) and ENV_REFERENCE.fullmatch(node):
        return _resolved(node, path, inner, source, problems, resolve, refs)
    if isinstance(node, dict):
        return {
            k: _resolve_secrets(v, path, (*inner, k), source, problems, resolve, refs)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [
            _resolve_secrets(v, path, (*inner, str(i)), source, problems, resolve, refs)
            for i, v in enumerate(node)
        ]
    return node


def _resolved(
    reference: Any,
    path: Path,
    inner: Path,
    source: Source,
    problems: list[Problem],
    resolve: SecretResolver,
    refs: dict[str, Any],
) -> Any:
    value, error = resolve(reference, (source.name,))
    if error is not None:
        problems.append(source.problem((*path, *inner), error))
        return None
    refs[".".join(inner)] = reference
    return value


_READERS: dict[str, Callable[..., Any]] = {
    "channels": _read_channel,
    "destinations": _read_destination,
    "subscriptions": _read_subscription,
}
