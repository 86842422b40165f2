"""Postgres: engines, migrations and every SQL statement eventrouter runs."""

from eventrouter.router.db.engine import (
    is_connection_error,
    is_query_cancelled,
    make_engine,
    pg_text,
    safe_url,
    set_statement_timeout,
    translating_errors,
)

__all__ = [
    "is_connection_error",
    "is_query_cancelled",
    "make_engine",
    "pg_text",
    "safe_url",
    "set_statement_timeout",
    "translating_errors",
]
