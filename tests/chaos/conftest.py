"""Fixtures for fault tests: a private Redis and database per test, processes cleaned up."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventrouter.router.db.migrate import drop_database
from tests import databases
from tests.chaos.harness import SHARED_PG, RedisServer, Stack
from tests.receiver import Receiver


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.chaos)


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()


@pytest.fixture
def chaos_database_url() -> Iterator[str]:
    """A migrated database of its own (a copy of the migrated template)."""
    url = SHARED_PG.rsplit("/", 1)[0] + f"/chaos_{uuid.uuid4().hex[:12]}"
    databases.create_migrated(url)
    yield url
    drop_database(url)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver().start()
    yield rec
    rec.stop()


@pytest.fixture
def stack(tmp_path: Path, redis_server: RedisServer, chaos_database_url: str) -> Iterator[Stack]:
    s = Stack(tmp_path, redis_server.url, chaos_database_url)
    yield s
    s.stop_all()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "chaos: fault-injection tests with real processes (tests/chaos)"
    )
