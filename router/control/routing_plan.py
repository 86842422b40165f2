"""Configuration as code: what applying a routing file changes, field by field (pure; the
file is read by ``routing_file``, the plan written by ``configuration``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from eventrouter.router.control.people import medium_refusal
from eventrouter.router.control.routing_file import (
    INTERNAL_KEYS,
    DestinationSpec,
    PeopleSpec,
    Routing,
    SubscriptionSpec,
)
from eventrouter.router.control.routing_source import Problem, RoutingFileError
from eventrouter.router.control.subscriptions import no_user
from eventrouter.router.destinations import redact, secret_paths
from eventrouter.router.people.recipients import parse_recipients

Action = Literal["add", "change", "remove"]
Noun = Literal["channel", "destination", "subscription", "people"]


@dataclass(frozen=True, slots=True)
class Change:
    action: Action
    noun: Noun
    name: str
    details: tuple[str, ...] = ()
    """For ``change``: ``field: old → new`` per field, secrets masked."""

    def __str__(self) -> str:
        sign = {"add": "+", "change": "~", "remove": "-"}[self.action]
        text = f"{sign} {self.noun} {self.name}".rstrip()
        return text + "".join(f"\n    {detail}" for detail in self.details)


@dataclass(frozen=True, slots=True)
class Plan:
    desired: Routing
    changes: tuple[Change, ...]
    people: PeopleSpec | None = None
    """The people settings to write (``None``: left as they are)."""

    def of(self, action: Action, noun: Noun) -> list[str]:
        return [c.name for c in self.changes if c.action == action and c.noun == noun]

    def summary(self) -> str:
        counts = {a: sum(c.action == a for c in self.changes) for a in ("add", "change", "remove")}
        return f"{counts['add']} to add, {counts['change']} to change, {counts['remove']} to remove"


# -- planning ---------------------------------------------------------------------------
def plan(
    desired: Routing,
    current: Routing,
    *,
    prune: bool,
    system_channels: Iterable[str],
    problems: list[Problem] | None = None,
    users: Iterable[str] | None = None,
) -> Plan:
    """What applying ``desired`` to ``current`` changes. Raises ``RoutingFileError`` with
    every problem (``problems`` from reading, plus references that cannot be met: channels,
    destinations, the people media, and emails not among the org's ``users``; ``None``
    skips that last check).

    With ``prune``, a file that does not say ``people`` clears the people settings: the
    files are then the whole configuration. Without it, they stay as they are."""
    found = list(problems or [])
    system = set(system_channels)
    for name in desired.channels:
        if name in system:
            found.append(
                desired.problem(("channels", name), "reserved for a built-in system channel")
            )
    named_channels = {n for s, n in desired.named if s == "channels"}
    named_destinations = {n for s, n in desired.named if s == "destinations"}
    kept_channels = named_channels | system | (set() if prune else set(current.channels))
    kept_destinations = named_destinations | (set() if prune else set(current.destinations))
    for sub in desired.subscriptions.values():
        for noun, names, kept in (
            ("channels", sub.channels, kept_channels),
            ("destinations", sub.destinations, kept_destinations),
        ):
            missing = [n for n in names if n not in kept]
            if missing:
                where = "neither in the file nor stored" if not prune else "not in the file"
                found.append(
                    desired.problem(
                        ("subscriptions", sub.name, noun),
                        f"names {', '.join(map(repr, missing))}, {where}",
                    )
                )
    for name, spec in desired.destinations.items():
        stored = current.destinations.get(name)
        if stored is not None and stored.type != spec.type:
            # Its rows, deliveries and history are of the stored kind: written over, the
            # new kind's config would be sent as the old kind (as `destinations update`).
            found.append(
                desired.problem(
                    ("destinations", name, "type"),
                    f"the type of destination {name!r} cannot change; add a new destination",
                )
            )
    if users is not None:
        found += _unknown_users(desired, {email.lower() for email in users})
    people = desired.people if desired.people is not None or not prune else PeopleSpec()
    if desired.people is not None:
        found += _media_problems(desired, current, kept_destinations, prune)
    if found:
        raise RoutingFileError(found)
    changes: list[Change] = []
    for noun, section in (
        ("channel", "channels"),
        ("destination", "destinations"),
        ("subscription", "subscriptions"),
    ):
        wanted: dict[str, Any] = getattr(desired, section)
        have: dict[str, Any] = getattr(current, section)
        for name, spec in wanted.items():
            if name not in have:
                changes.append(Change("add", noun, name))  # type: ignore[arg-type]
            else:
                details = _differences(have[name], spec)
                if details:
                    changes.append(Change("change", noun, name, tuple(details)))  # type: ignore[arg-type]
        if prune:
            changes += [
                Change("remove", noun, name)  # type: ignore[arg-type]
                for name in have
                if name not in wanted
            ]
    if people is not None and people != current.people:
        was = current.people or PeopleSpec()
        details = [
            f"{medium}: {_shown(getattr(was, medium))} → {_shown(getattr(people, medium))}"
            for medium in ("email_via", "slack_via")
            if getattr(was, medium) != getattr(people, medium)
        ]
        if details:
            changes.append(Change("change", "people", "", tuple(details)))
    return Plan(desired, tuple(changes), people)


def _unknown_users(desired: Routing, known: set[str]) -> list[Problem]:
    """An email in ``users`` that is not a user of the org would notify no one, silently:
    refused as ``subscriptions add --users`` refuses it."""
    found = []
    for sub in desired.subscriptions.values():
        if sub.users is None:
            continue
        missing = sorted(parse_recipients(sub.users).emails - known)
        if missing:
            path = ("subscriptions", sub.name, "users")
            found.append(desired.problem(path, str(no_user(*missing))))
    return found


def _media_problems(
    desired: Routing, current: Routing, kept: set[str], prune: bool
) -> list[Problem]:
    """Each people medium names a destination that will exist, of the kind it needs, as
    ``people set`` requires (with its messages)."""
    assert desired.people is not None
    found = []
    for medium in ("email_via", "slack_via"):
        name = getattr(desired.people, medium)
        if name is None or (
            ("destinations", name) in desired.named and name not in desired.destinations
        ):
            continue  # none, or a destination whose own problem is already listed
        spec = desired.destinations.get(name) or (
            current.destinations.get(name) if name in kept else None
        )
        if spec is None:
            where = "not in the file" if prune else "neither in the file nor stored"
            found.append(desired.problem(("people", medium), f"names {name!r}, {where}"))
            continue
        refusal = medium_refusal(medium, name, spec.type, bool(spec.config.get("bot_token")))
        if refusal is not None:
            found.append(desired.problem(("people", medium), refusal))
    return found


def _differences(old: Any, new: Any) -> list[str]:
    """``field: old → new`` for each field that changes (secrets masked)."""
    details = []
    if isinstance(new, DestinationSpec):
        assert isinstance(old, DestinationSpec)
        paths = [*secret_paths(new.type, new.config), *secret_paths(old.type, old.config)]
        secrets = {".".join(p).removesuffix(".*") for p in paths}
        before, after = _flat(old.config), _flat(new.config)
        shown_before, shown_after = (
            _flat(redact(old.type, old.config)),
            _flat(redact(new.type, new.config)),
        )
        for key in sorted(set(before) | set(after)):
            if before.get(key) == after.get(key):
                continue
            if any(key == s or key.startswith(s + ".") for s in secrets):
                details.append(
                    f"{key}: (secret changed) {_shown(shown_before.get(key))} → "
                    f"{_shown(shown_after.get(key))}"
                )
            else:
                details.append(f"{key}: {_shown(before.get(key))} → {_shown(after.get(key))}")
        if old.retry_schedule != new.retry_schedule:
            details.append(
                f"retry_schedule: {_shown(old.retry_schedule)} → {_shown(new.retry_schedule)}"
            )
        if new.enabled is not None and old.enabled != new.enabled:
            details.append(f"enabled: {_shown(old.enabled)} → {_shown(new.enabled)}")
        if old.secret_refs != new.secret_refs and not details:
            details.append("secret references changed")
        return details
    for name in (
        "pattern",
        "env",
        "description",
        "channels",
        "destinations",
        "enabled",
        "users",
        "mandatory",
    ):
        if not hasattr(new, name):
            continue
        was, wants = getattr(old, name), getattr(new, name)
        if name in ("channels", "destinations"):
            was, wants = sorted(was), sorted(wants)
        if name == "enabled" and wants is None:
            continue
        if was != wants:
            details.append(f"{name}: {_shown(was)} → {_shown(wants)}")
    if isinstance(new, SubscriptionSpec):
        assert isinstance(old, SubscriptionSpec)
        before, after = _flat(old.rules, "rules."), _flat(new.rules, "rules.")
        for key in sorted(set(before) | set(after)):
            if before.get(key) != after.get(key):
                details.append(f"{key}: {_shown(before.get(key))} → {_shown(after.get(key))}")
    return details


def _flat(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if key in INTERNAL_KEYS:
            continue
        if isinstance(value, dict) and value:
            flat.update(_flat(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _shown(value: Any) -> str:
    if value is None:
        return "-"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:79] + "…"
