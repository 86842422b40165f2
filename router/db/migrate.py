"""Create the database if it is missing and bring its schema to the newest revision; drop
a database (tests and benchmarks make their own and drop them after)."""

from __future__ import annotations

from importlib import resources

import psycopg
from alembic import command
from alembic.config import Config
from psycopg import sql
from sqlalchemy import make_url

from eventrouter.router.db.engine import make_engine, translating_errors, unavailable


def maintenance_dsn(url: str) -> str:
    """A libpq DSN for the ``postgres`` database on the server of ``url``, where databases
    are created and dropped."""
    maintenance = make_url(url).set(drivername="postgresql", database="postgres")
    return maintenance.render_as_string(hide_password=False)


def create_database_if_missing(url: str) -> bool:
    """Create the database named in ``url``; return whether it had to be created."""
    name = make_url(url).database
    if not name:
        return False
    try:
        with psycopg.connect(maintenance_dsn(url), autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists:
                return False
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            return True
    except psycopg.OperationalError as exc:
        raise unavailable(url, exc) from exc


def drop_database(url: str) -> None:
    """Drop the database named in ``url`` if it exists, ending its sessions first."""
    name = make_url(url).database
    if not name:
        return
    with psycopg.connect(maintenance_dsn(url), autocommit=True, connect_timeout=5) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        conn.execute(drop)


def alembic_config() -> Config:
    config = Config()
    config.set_main_option(
        "script_location", str(resources.files("eventrouter.router.db") / "migrations")
    )
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the schema at ``url`` to ``revision``."""
    engine = make_engine(url, pool_size=1)
    try:
        with translating_errors(url), engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    from alembic.runtime.migration import MigrationContext

    engine = make_engine(url, pool_size=1)
    try:
        with translating_errors(url), engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision this version's migrations know."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
