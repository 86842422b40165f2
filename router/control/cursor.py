"""Opaque page cursors: the sort key of the last row of a page, base64url-encoded, so a
client passes back ``next_cursor`` without knowing (or depending on) what is inside."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from eventrouter.router.errors import ConfigError
from eventrouter.router.models.base import Page

T = TypeVar("T")
K = TypeVar("K", int, str)
_INVALID = "invalid cursor: pass back the next_cursor of the previous page as is"

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
        raise ConfigError(_INVALID)
    return key


def decode_id(cursor: str) -> int:
    """The integer id inside a cursor made by ``encode(id)``; ``ConfigError`` for anything
    else, so a hand-made cursor is the caller's mistake and never reaches the SQL."""
    (key,) = decode(cursor, 1)
    if not isinstance(key, int) or isinstance(key, bool):
        raise ConfigError(_INVALID)
    return key


def decode_time_and_id(cursor: str, id_type: type[K]) -> tuple[datetime, K]:
    """The (time, id) inside a cursor made by ``encode(time.isoformat(), id)``."""
    at, key = decode(cursor, 2)
    if not isinstance(at, str) or type(key) is not id_type:
        raise ConfigError(_INVALID)
    try:
        return datetime.fromisoformat(at), key
    except ValueError:
        raise ConfigError(_INVALID) from None


def check_limit(limit: int, maximum: int = MAX_PAGE) -> int:
    if not 1 <= limit <= maximum:
        raise ConfigError(f"limit must be between 1 and {maximum}")
    return limit


def page_of(
    items: Sequence[T],
    key: Callable[[T], list[Any]],
    *,
    limit: int,
    cursor_token: str | None,
    maximum: int = MAX_PAGE,
) -> Page[T]:
    """One page of a short list read whole (configuration objects), ordered by ``key``:
    the cursor is the key of the last item shown, so a removal between pages skips nothing."""
    check_limit(limit, maximum)
    ordered = sorted(items, key=key)
    if cursor_token is not None and ordered:
        sample = key(ordered[0])
        last = decode(cursor_token, len(sample))
        if [type(v) for v in last] != [type(v) for v in sample]:
            raise ConfigError(_INVALID)
        ordered = [item for item in ordered if key(item) > last]
    return next_page(ordered, limit, key)


def by_id(
    fetch: Callable[[int, int], Sequence[T]],
    id_of: Callable[[T], int],
    *,
    limit: int,
    cursor_token: str | None,
) -> Page[T]:
    """One page of rows read by keyset on an integer id: ``fetch(after_id, limit)`` is asked
    for one row more than shown, which tells whether there is a next page."""
    check_limit(limit)
    after_id = decode_id(cursor_token) if cursor_token else 0
    return next_page(fetch(after_id, limit + 1), limit, lambda row: [id_of(row)])


def next_page(rows: Sequence[T], limit: int, key: Callable[[T], Sequence[Any]]) -> Page[T]:
    """The first ``limit`` of ``rows`` (read one longer than the page, which tells whether
    there is more) and, when there is more, the cursor of the last row shown (its ``key``)."""
    page = list(rows[:limit])
    next_cursor = encode(*key(page[-1])) if rows[limit:] else None
    return Page[T](items=page, next_cursor=next_cursor)
