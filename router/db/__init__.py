"""Postgres: engines, migrations and every SQL statement eventrouter runs."""

from eventrouter.router.db.engine import (
    is_connection_error,
    make_engine,
    pg_text,
    safe_url,
    translating_errors,
)

__all__ = ["is_connection_error", "make_engine", "pg_text", "safe_url", "translating_errors"]
