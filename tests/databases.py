"""Migrated databases for tests, copied from one template per test process.

Running every migration takes about as long as starting a router (seconds on a loaded
machine), and the e2e and fault tests each want a fresh database. Postgres copies a
database file by file with ``CREATE DATABASE … TEMPLATE``, several times faster: the
migrations run once, on a private template, and every later database is a copy of it.
The template is this process's own (other engineers' runs share the server) and is
dropped when the process exits.
"""

from __future__ import annotations

import atexit
import contextlib
import secrets
import threading

import psycopg
from psycopg import sql as pgsql
from sqlalchemy import make_url

from eventrouter.router.db.migrate import (
    create_database_if_missing,
    drop_database,
    maintenance_dsn,
    upgrade,
)

_lock = threading.Lock()
_templates: dict[str, str] = {}  # maintenance DSN → template database name


def create_migrated(url: str) -> None:
    """Create the database of ``url`` at the newest migration, as a copy of the template."""
    dsn = maintenance_dsn(url)
    template = _template(url, dsn)
    name = make_url(url).database or ""
    with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            pgsql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                pgsql.Identifier(name), pgsql.Identifier(template)
            )
        )


def _template(url: str, dsn: str) -> str:
    with _lock:
        if dsn not in _templates:
            name = f"er_template_{secrets.token_hex(5)}"
            template_url = make_url(url).set(database=name).render_as_string(hide_password=False)
            create_database_if_missing(template_url)
            atexit.register(_drop_quietly, template_url)
            upgrade(template_url)
            _templates[dsn] = name
        return _templates[dsn]


def _drop_quietly(url: str) -> None:
    with contextlib.suppress(psycopg.Error):
        drop_database(url)
