"""Destination forms, generated from each kind's declared options (``Option``): the same
settings the CLI's ``destinations add`` takes, as fields, and the service's validation
messages placed next to the field they are about. Pure: form values in, options out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eventrouter.router.dashboard.submit import Errors, flag_field
from eventrouter.router.destinations import COMMON, KINDS, Option, kind_named
from eventrouter.router.destinations.options import read_template
from eventrouter.router.errors import ConfigError


@dataclass(frozen=True, slots=True)
class FormField:
    name: str
    label: str
    help: str
    widget: str
    """``text``, ``password``, ``number``, ``select``, ``checkbox``, ``textarea`` or
    ``code`` (an expression, in a monospace box)."""
    choices: tuple[str, ...] = ()
    step: str = "any"
    flag: str = ""
    """The CLI flag, so a person can go from one to the other."""


def _widget(option: Option) -> str:
    if option.type == "choice":
        return "select"
    if option.type == "flag":
        return "checkbox"
    if option.multiple or option.parse is read_template:
        return "textarea"
    if option.type in ("number", "integer", "port"):
        return "number"
    return "password" if option.secret else "text"


def options_of(kind: str) -> tuple[Option, ...]:
    return (*kind_named(kind).options, *COMMON)


def fields_for(kind: str) -> list[FormField]:
    """The form of ``kind``: its own options first, then the ones every kind has."""
    return [
        FormField(
            name=option.name,
            label=option.name.replace("_", " ").capitalize(),
            help=option.help + (" One per line." if option.multiple else ""),
            widget=_widget(option),
            choices=option.choices,
            step="1" if option.type in ("integer", "port") else "any",
            flag=option.cli_flag,
        )
        for option in options_of(kind)
    ]


def _number(option: Option, text: str) -> int | float:
    try:
        value: int | float = int(text) if option.type in ("integer", "port") else float(text)
    except ValueError:
        noun = "a whole number" if option.type in ("integer", "port") else "a number"
        raise ConfigError(f"{option.cli_flag}: {text!r} is not {noun}") from None
    if option.type == "port" and not 1 <= int(value) <= 65535:
        raise ConfigError(f"{option.cli_flag}: {value} is not a port between 1 and 65535")
    return value


def _value(option: Option, text: str) -> Any:
    if option.type == "flag":
        return True
    if option.multiple:
        return [line.strip() for line in text.splitlines() if line.strip()]
    if option.type in ("number", "integer", "port"):
        return _number(option, text)
    if option.parse is read_template and text.startswith("@"):
        raise ConfigError(f"{option.cli_flag}: paste the template itself; @file works in the CLI")
    if option.type == "choice" and text not in option.choices:
        raise ConfigError(f"{option.cli_flag}: choose one of {', '.join(option.choices)}")
    return text


def read_form(kind: str, form: Mapping[str, str]) -> tuple[dict[str, Any], Errors]:
    """The options a person filled in (blank fields are not given, as an absent CLI flag),
    and the fields whose text could not be read."""
    given: dict[str, Any] = {}
    errors: Errors = {}
    for option in options_of(kind):
        text = form.get(option.name, "").strip()
        if not text:
            continue
        try:
            value = _value(option, text)
        except ConfigError as exc:
            errors[option.name] = str(exc)
            continue
        if value != []:
            given[option.name] = value
    return given, errors


def error_field(kind: str, exc: ConfigError) -> str:
    """The field a service's message is about: the one it names (a config path maps to the
    option that sets it), else the first CLI flag it mentions, else none (the message goes
    above the form)."""
    options = options_of(kind) if kind in KINDS else ()
    if exc.field and exc.field[0] != "config":
        return exc.field[0]
    if exc.field:
        path = exc.field[1:]
        best = max(
            (o for o in options if path[: len(o.config_path)] == o.config_path),
            key=lambda o: len(o.config_path),
            default=None,
        )
        if best is not None:
            return best.name
    return flag_field(str(exc), {o.cli_flag: o.name for o in options})


def _at(config: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = config
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return None
        node = node[key]
    return node


def current_values(kind: str, config: Mapping[str, Any]) -> dict[str, str]:
    """A stored (masked) config as the form's text: what the edit form starts with.
    Secrets stay blank: a blank secret field means "keep it"."""
    values: dict[str, str] = {}
    for option in options_of(kind):
        value = _at(config, option.config_path)
        if value is None or option.secret:
            continue
        if isinstance(value, Mapping):
            values[option.name] = "\n".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, list):
            values[option.name] = "\n".join(str(v) for v in value)
        elif isinstance(value, bool):
            values[option.name] = "on" if value else ""
        else:
            values[option.name] = str(value)
    return values


def edit_patch(
    kind: str, before: Mapping[str, str], form: Mapping[str, str]
) -> tuple[dict[str, Any], Errors]:
    """The merge patch for what a person changed on the edit form: a field left as it was
    is not sent (so a masked value never overwrites the secret it hides), a cleared one is
    removed (``None``), a changed one is read as ``read_form`` reads it."""
    patch: dict[str, Any] = {}
    errors: Errors = {}
    for option in options_of(kind):
        text = form.get(option.name, "").strip()
        if text == before.get(option.name, "") or (option.secret and not text):
            continue
        value: Any = None
        if text:
            try:
                value = _value(option, text)
                if option.parse is not None:
                    value = option.parse(value)
            except ConfigError as exc:
                errors[option.name] = str(exc)
                continue
        target = patch
        for key in option.config_path[:-1]:
            target = target.setdefault(key, {})
        target[option.config_path[-1]] = value
    return patch, errors
