"""Destination kinds by name. Each module holds one kind behind ``base.DestinationKind``."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from router.errors import ConfigError
from workers.destinations.base import DestinationKind, Outcome, OutcomeKind, SendContext
from workers.destinations.webhook import Webhook

KINDS: dict[str, DestinationKind] = {"webhook": Webhook()}


def validate_config(kind: str, config: dict[str, Any]) -> BaseModel:
    """The typed config for ``kind``; ``ConfigError`` names the first bad field."""
    if kind not in KINDS:
        raise ConfigError(f"unknown destination type {kind!r}; choose one of {', '.join(KINDS)}")
    try:
        return KINDS[kind].config_model.model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or kind
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"invalid {kind} destination {where}: {message}") from None


__all__ = ["KINDS", "DestinationKind", "Outcome", "OutcomeKind", "SendContext", "validate_config"]
