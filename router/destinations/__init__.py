"""Destination kinds by name. Each module holds one kind behind ``base.DestinationKind``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from eventrouter.router.destinations import fields
from eventrouter.router.destinations.base import DestinationKind, Outcome, OutcomeKind, SendContext
from eventrouter.router.destinations.email import Email
from eventrouter.router.destinations.options import COMMON, Option, assemble
from eventrouter.router.destinations.pagerduty import PagerDuty
from eventrouter.router.destinations.slack import Slack
from eventrouter.router.destinations.webhook import Webhook
from eventrouter.router.errors import ConfigError

KINDS: dict[str, DestinationKind] = {
    kind.name: kind for kind in (Webhook(), Slack(), PagerDuty(), Email())
}


def kind_named(kind: str) -> DestinationKind:
    """The kind called ``kind``; ``ConfigError`` listing the kinds there are otherwise."""
    if kind not in KINDS:
        raise ConfigError(f"unknown destination type {kind!r}; choose one of {', '.join(KINDS)}")
    return KINDS[kind]


def build_config(kind: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """A config from the options a person gave (``destinations add --type KIND …``); options
    of another kind are refused rather than silently ignored."""
    return _check_options(kind, given).config_from_options(given)


def build_changes(kind: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """A merge patch (RFC 7396) of a stored config from the options a person gave
    (``destinations update``): what is given replaces what is stored; an empty value in a
    repeatable ``Name: value`` option (``--header 'X-Team:'``) removes that entry."""
    found = _check_options(kind, given)
    patch = assemble(found.options, given, partial=True)
    for option in found.options:
        key = option.config_path[0]
        if option.multiple and option.name in given and isinstance(patch.get(key), dict):
            patch[key] = {k: (None if v == "" else v) for k, v in patch[key].items()}
    return patch


def merge_patch(target: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    """``target`` with ``patch`` applied as RFC 7396 says: objects merge key by key, ``None``
    removes a key, anything else replaces."""
    merged = dict(target)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_patch(merged[key], value)
        else:
            merged[key] = value
    return merged


def _check_options(kind: str, given: Mapping[str, Any]) -> DestinationKind:
    """The kind, once every option given is known to belong to it."""
    found = kind_named(kind)
    own = {option.name for option in (*COMMON, *found.options)}
    for name in given:
        if name not in own:
            users = [k.name for k in KINDS.values() if name in {o.name for o in k.options}]
            flag = next(o.cli_flag for k in KINDS.values() for o in k.options if o.name == name)
            raise ConfigError(
                f"{flag} does not apply to --type {kind} (it is for {', '.join(users)})"
            )
    return found


def describe_target(kind: str, config: Mapping[str, Any]) -> str:
    """One line saying where a (masked) destination config sends."""
    return KINDS[kind].describe(config) if kind in KINDS else ""


def validate_config(kind: str, config: dict[str, Any]) -> BaseModel:
    """The typed config for ``kind``; ``ConfigError`` names the first bad field."""
    model = kind_named(kind).config_model
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(_field_name(part) for part in first["loc"]) or kind
        message = " ".join(str(first["msg"]).removeprefix("Value error, ").split())
        if message.startswith("Input should be "):  # pydantic's wording, made a person's
            message = f"must be {message.removeprefix('Input should be ')} (got {first['input']!r})"
        raise ConfigError(
            f"invalid {kind} destination {where}: {message}",
            field=("config", *(str(part) for part in first["loc"])),
        ) from None


def _field_name(part: object) -> str:
    """A config key as an error message shows it: as is when it reads plainly, else quoted
    (a key may be any text, line breaks included, and a message is one line)."""
    text = str(part)
    return text if text.isprintable() and text.strip() == text and text else repr(text)


def secret_paths(kind: str, config: Any = None) -> list[fields.Path]:
    """Where ``kind``'s configs hold secrets, e.g. ``[("secret",), ("smtp", "password")]``;
    given a ``config``, where that one holds them (a URL only with credentials in it)."""
    return fields.secret_paths(kind_named(kind).config_model, config)


def redact(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with every secret shown as ``…last4`` (unknown kinds: every string)."""
    if kind not in KINDS:
        return {key: fields.mask(value) for key, value in config.items()}
    return fields.redact(KINDS[kind].config_model, config)


__all__ = [
    "COMMON",
    "KINDS",
    "DestinationKind",
    "Option",
    "Outcome",
    "OutcomeKind",
    "SendContext",
    "build_changes",
    "build_config",
    "describe_target",
    "kind_named",
    "merge_patch",
    "redact",
    "secret_paths",
    "validate_config",
]
