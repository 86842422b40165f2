"""Destination kinds by name. Each module holds one kind behind ``base.DestinationKind``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from eventrouter.router.destinations import fields
from eventrouter.router.destinations.base import DestinationKind, Outcome, OutcomeKind, SendContext
from eventrouter.router.destinations.email import Email
from eventrouter.router.destinations.pagerduty import PagerDuty
from eventrouter.router.destinations.slack import Slack
from eventrouter.router.destinations.webhook import Webhook
from eventrouter.router.errors import ConfigError

KINDS: dict[str, DestinationKind] = {
    kind.name: kind for kind in (Webhook(), Slack(), PagerDuty(), Email())
}


def _kind(kind: str) -> DestinationKind:
    if kind not in KINDS:
        raise ConfigError(f"unknown destination type {kind!r}; choose one of {', '.join(KINDS)}")
    return KINDS[kind]


def validate_config(kind: str, config: dict[str, Any]) -> BaseModel:
    """The typed config for ``kind``; ``ConfigError`` names the first bad field."""
    model = _kind(kind).config_model
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or kind
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"invalid {kind} destination {where}: {message}") from None


def secret_paths(kind: str, config: Any = None) -> list[fields.Path]:
    """Where ``kind``'s configs hold secrets, e.g. ``[("secret",), ("smtp", "password")]``;
    given a ``config``, where that one holds them (a URL only with credentials in it)."""
    return fields.secret_paths(_kind(kind).config_model, config)


def redact(kind: str, config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with every secret shown as ``…last4`` (unknown kinds: every string)."""
    if kind not in KINDS:
        return {key: fields.mask(value) for key, value in config.items()}
    return fields.redact(KINDS[kind].config_model, config)


__all__ = [
    "KINDS",
    "DestinationKind",
    "Outcome",
    "OutcomeKind",
    "SendContext",
    "redact",
    "secret_paths",
    "validate_config",
]
