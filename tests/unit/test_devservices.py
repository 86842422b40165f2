"""Where ``eventrouter dev`` may start private servers, and what it says when it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventrouter.router.devservices import (
    Address,
    plan_postgres,
    plan_redis,
    postgres_address,
    redis_address,
)
from eventrouter.router.errors import ConfigError


def test_addresses_come_from_the_urls_with_the_usual_default_ports() -> None:
    assert postgres_address("postgresql+psycopg://u:p@db.local/er") == Address("db.local", 5432)
    assert redis_address("redis://127.0.0.1:7000/3") == Address("127.0.0.1", 7000)
    assert redis_address("redis://localhost") == Address("localhost", 6379)
    # Sentinel and Unix sockets name no server of their own to start.
    assert redis_address("redis+sentinel://127.0.0.1:26379/mymaster/0") is None
    assert redis_address("unix:///run/redis.sock") is None


def test_a_remote_server_is_never_replaced_by_a_private_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as pg:
        plan_postgres("postgresql+psycopg://app:secret@db.example.com/er", tmp_path)
    message = str(pg.value)
    assert "db.example.com" in message and "EVENTROUTER_DATABASE_URL" in message
    assert "secret" not in message
    with pytest.raises(ConfigError, match="EVENTROUTER_REDIS_URL"):
        plan_redis("redis+sentinel://10.0.0.5:26379/mymaster/0", tmp_path)


def test_a_private_redis_listens_where_the_url_says_and_persists(tmp_path: Path) -> None:
    plan = plan_redis("redis://:hunter2@127.0.0.1:7001/0", tmp_path)
    argv = plan.argv
    assert argv[argv.index("--port") + 1] == "7001"
    assert argv[argv.index("--appendonly") + 1] == "yes"
    assert argv[argv.index("--requirepass") + 1] == "hunter2"
    assert "hunter2" not in plan.url


def test_a_new_postgres_cluster_is_initialised_once_with_the_urls_user(tmp_path: Path) -> None:
    plan = plan_postgres("postgresql+psycopg://alice@127.0.0.1:7002/er", tmp_path / "pg")
    assert [Path(step[0]).name for step in plan.prepare] == ["initdb"]
    assert plan.prepare[0][plan.prepare[0].index("-U") + 1] == "alice"
    assert plan.argv[plan.argv.index("-p") + 1] == "7002"
    (tmp_path / "pg").mkdir()
    (tmp_path / "pg" / "PG_VERSION").write_text("1\n")  # a cluster no binary here can open
    with pytest.raises(ConfigError, match="Postgres 1 cluster"):
        plan_postgres("postgresql+psycopg://alice@127.0.0.1:7002/er", tmp_path / "pg")


def test_settings_take_sentinel_urls_in_the_one_form_every_client_understands() -> None:
    from eventrouter.router.settings import Settings

    url = "redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2/prod/1"
    assert Settings(redis_url=url, broker_url=url).celery_broker_url == url
    with pytest.raises(ValueError, match=r"redis\+sentinel://host:26379"):
        Settings(redis_url="sentinel://10.0.0.1:26379")  # kombu's form: no master name
    with pytest.raises(ValueError, match="master-name"):
        Settings(broker_url="redis+sentinel://10.0.0.1:26379")
