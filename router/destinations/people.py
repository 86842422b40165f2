"""A person's delivery through a destination: the destination's own config, addressed to
that person (``subscriptions --users``). Email sends to their address instead of the
configured ``to``; the Slack bot posts to their member id (a DM) or channel instead of
its ``channel``. Other kinds have no notion of a person's address.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

MEDIA = {"email": "to", "slack": "channel"}
"""Destination kind → the config field a person's address replaces."""


def addressed(kind: str, config: BaseModel, address: str) -> BaseModel | None:
    """``config`` sending to ``address``; ``None`` when the kind cannot reach a person."""
    field = MEDIA.get(kind)
    if field is None:
        return None
    value: Any = [address] if field == "to" else address
    return config.model_copy(update={field: value})
