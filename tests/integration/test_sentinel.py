"""``redis+sentinel://`` URLs against a real Redis master and a real Sentinel on loopback:
``publish()``, the router's dispatcher (Celery's broker) and ``eventrouter health``."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from eventrouter import publish
from eventrouter.router.dispatch import Dispatcher
from eventrouter.router.health import Limits, check_redis
from eventrouter.router.redis_conn import celery_broker, parse_sentinel_url, redis_client
from eventrouter.router.settings import Settings
from tests.smtp_server import free_port

MASTER = "ermaster"


@dataclass
class SentinelSetup:
    master: redis.Redis
    url: str


def _start(argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def sentinel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelSetup]:
    server = shutil.which("redis-server")
    assert server, "redis-server is needed for the Sentinel tests"
    workdir = tmp_path_factory.mktemp("sentinel")
    master_port, sentinel_port = free_port(), free_port()
    master_proc = _start(
        [
            server,
            "--port",
            str(master_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(workdir),
        ]
    )
    config = Path(workdir / "sentinel.conf")  # Sentinel rewrites its config: a file of its own
    config.write_text(
        f"port {sentinel_port}\nbind 127.0.0.1\ndir {workdir}\n"
        f"sentinel monitor {MASTER} 127.0.0.1 {master_port} 1\n"
    )
    sentinel_proc = _start([server, str(config), "--sentinel"])
    try:
        asker = redis.Redis(port=sentinel_port, socket_connect_timeout=1)
        deadline = time.monotonic() + 30
        while True:
            try:
                if asker.sentinel_get_master_addr_by_name(MASTER):
                    break
            except redis.RedisError:
                pass
            assert time.monotonic() < deadline, "Sentinel did not come up"
            time.sleep(0.1)
        master = redis.Redis(port=master_port)
        yield SentinelSetup(master, f"redis+sentinel://127.0.0.1:{sentinel_port}/{MASTER}/3")
        master.close()
        asker.close()
    finally:
        for proc in (sentinel_proc, master_proc):
            proc.terminate()
            proc.wait(timeout=10)


def test_publish_reaches_the_master_the_sentinel_names(sentinel: SentinelSetup) -> None:
    settings = Settings(redis_url=sentinel.url, stream="er:sentinel:events")
    event_id = publish("payment:failed", {"invoice": "in_1"}, settings=settings)
    master_db3 = redis.Redis(port=sentinel.master.connection_pool.connection_kwargs["port"], db=3)
    (entry,) = master_db3.xrange("er:sentinel:events")
    assert event_id.encode() in b"".join(entry[1].values()) + b"".join(entry[1].keys())
    assert redis_client(sentinel.url).ping()


def test_the_celery_broker_follows_the_sentinel_too(sentinel: SentinelSetup) -> None:
    settings = Settings(redis_url=sentinel.url, queue="er-sentinel-queue")
    dispatcher = Dispatcher(settings)
    assert dispatcher.dispatch([(11, 7), (12, 7)]) == 1
    assert dispatcher.waiting() == 1
    port = sentinel.master.connection_pool.connection_kwargs["port"]
    assert redis.Redis(port=port, db=3).llen("er-sentinel-queue") == 1


def test_health_checks_through_the_sentinel(sentinel: SentinelSetup) -> None:
    result = check_redis(Settings(redis_url=sentinel.url), Limits())
    assert result.ok, result.detail
    down = check_redis(Settings(redis_url=f"redis+sentinel://127.0.0.1:{free_port()}/x"), Limits())
    assert not down.ok and "redis+sentinel://127.0.0.1" in down.detail


def test_sentinel_urls_parse_with_passwords_hidden() -> None:
    url = "redis+sentinel://:s3cret@10.0.0.1,10.0.0.2:26380/prod/2?sentinel_password=pw"
    parsed = parse_sentinel_url(url)
    assert parsed is not None
    assert parsed.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26380))
    assert (parsed.master, parsed.db, parsed.password) == ("prod", 2, "s3cret")
    assert parsed.sentinel_password == "pw"
    broker, options = celery_broker(url)
    assert broker == "sentinel://:s3cret@10.0.0.1:26379/2;sentinel://:s3cret@10.0.0.2:26380/2"
    assert options == {"master_name": "prod", "sentinel_kwargs": {"password": "pw"}}
    assert celery_broker("redis://h:6379/0") == ("redis://h:6379/0", {})
