"""Shared fixtures: a real Postgres database, a private slice of real Redis, settings.

Services (override with environment variables when they live elsewhere):
- Postgres at ``ER_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432``):
  one database ``er_test_<hex>`` is created and migrated per session and dropped at the
  end; ``clean_db`` empties its tables before a test.
- Redis at ``ER_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/12``; tests own db 12):
  each test gets its own stream and Celery queue names, deleted afterwards.

A service that is down fails the tests that need it, loudly, with the URL: nothing skips.
Unit tests use none of these fixtures and run without services.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import hypothesis
import psycopg
import pytest
import redis
from sqlalchemy import Engine, make_url

from eventrouter.router.db import make_engine, reset
from eventrouter.router.db.migrate import (
    create_database_if_missing,
    drop_database,
    maintenance_dsn,
    upgrade,
)
from eventrouter.router.settings import Settings
from tests.helpers import SECRET_KEY, RecordingDispatcher, Seed

POSTGRES_SERVER_URL = os.environ.get(
    "ER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432"
).rstrip("/")
REDIS_URL = os.environ.get("ER_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")


# No per-example deadline: a loaded 2-core CI machine must not turn slowness into failures.
hypothesis.settings.register_profile("eventrouter", deadline=None)
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "eventrouter"))


# -- Postgres ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A freshly created and migrated database for this session; dropped afterwards."""
    name = f"er_test_{secrets.token_hex(6)}"
    url = f"{POSTGRES_SERVER_URL}/{name}"
    try:
        with psycopg.connect(maintenance_dsn(url), connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"Postgres is not reachable at {make_url(url).render_as_string()} "
            f"({str(exc).strip().splitlines()[0]}). The integration tests need a real "
            "Postgres: start it (make services, or docker compose up -d postgres) or set "
            "ER_TEST_POSTGRES_URL.",
            pytrace=False,
        )
    create_database_if_missing(url)
    try:
        upgrade(url)
        yield url
    finally:
        drop_database(url)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """``router.db.make_engine`` on the session database, disposed after the test."""
    eng = make_engine(database_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def clean_sql(database_url: str) -> str:
    """The statements that empty the session database, read from its schema once."""
    eng = make_engine(database_url, pool_size=1)
    try:
        with eng.connect() as conn:
            return reset.tables(conn).delete_sql()
    finally:
        eng.dispose()


@pytest.fixture
def clean_db(engine: Engine, clean_sql: str) -> Engine:
    """Empty every data and config table (ids restart at 1; the system channels stay);
    returns the engine. DELETE rather than TRUNCATE: ~20x faster on a test's few rows."""
    with engine.begin() as conn:
        conn.exec_driver_sql(clean_sql)
    return engine


# -- Redis ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis is not reachable at {REDIS_URL} ({exc}). The integration tests need a "
            "real Redis: start it (make services, or docker compose up -d redis) or set "
            "ER_TEST_REDIS_URL.",
            pytrace=False,
        )
    finally:
        client.close()
    return REDIS_URL


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=10)
    yield client
    client.close()


@pytest.fixture
def key_token(redis_conn: redis.Redis) -> Iterator[str]:
    """A hex token naming this test's Redis keys; every key containing it is deleted after."""
    token = secrets.token_hex(6)
    yield token
    keys = list(redis_conn.scan_iter(match=f"*{token}*", count=1000))
    if keys:
        redis_conn.delete(*keys)


@pytest.fixture
def stream_name(key_token: str) -> str:
    return f"ertest:{key_token}:events"


@pytest.fixture
def queue_name(key_token: str) -> str:
    return f"ertest-{key_token}"


# -- settings ---------------------------------------------------------------------------
@pytest.fixture
def settings(database_url: str, redis_url: str, stream_name: str, queue_name: str) -> Settings:
    """Settings on the test services with timings fast enough for tests."""
    return Settings(
        database_url=database_url,
        redis_url=redis_url,
        broker_url=None,
        org="default",
        stream=stream_name,
        queue=queue_name,
        retry_schedule="1s,1s",
        router_block_ms=50,
        scheduler_interval_seconds=0.2,
        config_refresh_seconds=0.2,
        dispatch_grace_seconds=5,
        request_timeout_seconds=2,
        lease_seconds=30,
        secret_key=SECRET_KEY,
        allowed_networks="127.0.0.0/8",
        secret_key_file="/nonexistent/eventrouter-test-key",
    )


@pytest.fixture
def seed(clean_db: Engine) -> Seed:
    """Row helpers on an emptied database."""
    return Seed(clean_db)


@pytest.fixture
def dispatcher() -> RecordingDispatcher:
    return RecordingDispatcher()
