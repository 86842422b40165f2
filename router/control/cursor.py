"""Opaque page cursors: the sort key of the last row of a page, base64url-encoded, so a
client passes back ``next_cursor`` without knowing (or depending on) what is inside."""

from __future__ import annotations

import base64
import json
from typing import Any

from eventrouter.router.errors import ConfigError

MAX_PAGE = 10_000
"""The hard maximum of any page (the HTTP API allows less)."""


def encode(*key: Any) -> str:
    raw = json.dumps(key, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str, arity: int) -> list[Any]:
    """The key inside ``cursor``; ``ConfigError`` for anything not made by ``encode``."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError:
        key = None
    if not isinstance(key, list) or len(key) != arity:
        raise ConfigError("invalid cursor: pass back the next_cursor of the previous page as is")
    return key


def check_limit(limit: int, maximum: int = MAX_PAGE) -> int:
    if not 1 <= limit <= maximum:
        raise ConfigError(f"limit must be between 1 and {maximum}")
    return limit
