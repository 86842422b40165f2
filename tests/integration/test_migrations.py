"""Every migration goes down as well as up: base → head → base → head on a fresh database."""

from __future__ import annotations

import secrets

from alembic import command

from eventrouter.router.db import make_engine
from eventrouter.router.db.migrate import (
    alembic_config,
    create_database_if_missing,
    current_revision,
    drop_database,
    upgrade,
)
from tests.conftest import POSTGRES_SERVER_URL


def _downgrade(url: str, revision: str) -> None:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.begin() as connection:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
    finally:
        engine.dispose()


def test_the_schema_downgrades_to_nothing_and_upgrades_again() -> None:
    name = f"er_test_mig_{secrets.token_hex(4)}"
    url = f"{POSTGRES_SERVER_URL}/{name}"
    create_database_if_missing(url)
    try:
        upgrade(url)
        head = current_revision(url)
        _downgrade(url, "base")
        assert current_revision(url) is None
        upgrade(url)
        assert current_revision(url) == head
    finally:
        drop_database(url)
