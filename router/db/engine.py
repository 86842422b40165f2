"""Engines and the translation of driver errors into ``ServiceUnavailable``.

Domain code asks this module for an engine and never imports the driver: the
connector seam, as in procrastinate.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError, OperationalError

from eventrouter.router.errors import ServiceUnavailable, first_line


def safe_url(url: str) -> str:
    """The URL with any password hidden, fit for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """A pooled engine; connections are checked before use so a Postgres restart heals."""
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5},
    )


def unavailable(url: str, exc: BaseException) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"cannot reach Postgres at {safe_url(url)} ({first_line(exc)}); start Postgres or set "
        "EVENTROUTER_DATABASE_URL, then run 'eventrouter db upgrade'"
    )


def pg_text(value: str | None) -> str | None:
    """``value`` as Postgres ``text`` accepts it: NUL characters and lone surrogates become
    U+FFFD, the rest is kept.

    For text that comes from outside (stream entries, error messages, response bodies):
    one NUL byte must not make a whole batch fail to commit, again and again.
    """
    if value is None:
        return None
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = _SURROGATE.sub("\ufffd", value)
    return value


_SURROGATE = re.compile("[\ud800-\udfff]")


QUERY_CANCELLED = "57014"
"""SQLSTATE of a statement cancelled by ``statement_timeout``."""


def is_query_cancelled(exc: BaseException) -> bool:
    """True when ``exc`` is a statement cancelled by its timeout (Postgres is fine)."""
    return getattr(getattr(exc, "orig", None), "sqlstate", None) == QUERY_CANCELLED


def set_statement_timeout(conn: Connection, milliseconds: int) -> None:
    """Bound every later statement of this transaction (``SET LOCAL``): for queries whose
    cost a caller's input decides, such as a regex over event names."""
    conn.execute(
        text("SELECT set_config('statement_timeout', :value, true)"),
        {"value": f"{int(milliseconds)}ms"},
    )


def is_connection_error(exc: BaseException) -> bool:
    """True when ``exc`` means the database is unreachable rather than the query is wrong."""
    if is_query_cancelled(exc):
        return False
    if isinstance(exc, OperationalError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


@contextmanager
def translating_errors(url: str) -> Iterator[None]:
    """Turn connection failures into ``ServiceUnavailable`` naming ``url``."""
    try:
        yield
    except DBAPIError as exc:
        if is_connection_error(exc):
            raise unavailable(url, exc) from exc
        raise
