"""Postgres: engines, migrations and every SQL statement eventrouter runs."""

from router.db.engine import make_engine, safe_url, translating_errors

__all__ = ["make_engine", "safe_url", "translating_errors"]
