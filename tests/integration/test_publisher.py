"""The background ``Publisher`` and its disk spool against a real Redis (and a dead one)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis

from eventrouter import InvalidEvent, Publisher, Settings
from eventrouter.router.events import STREAM_FIELD
from eventrouter.router.spool import Spool
from tests.cut_proxy import CutProxy

DEAD = "redis://127.0.0.1:1/0"


def stream_ids(conn: redis.Redis, stream: str) -> list[str]:
    return [json.loads(fields[STREAM_FIELD])["id"] for _, fields in conn.xrange(stream)]


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    return tmp_path / "spool"


@pytest.fixture
def publisher(settings: Settings, spool_dir: Path) -> Iterator[Publisher]:
    made = Publisher(settings, spool_dir=spool_dir, install_atexit=False)
    yield made
    made.close(timeout=5)


def dead_publisher(settings: Settings, spool_dir: Path, **kwargs: object) -> Publisher:
    dead = settings.model_copy(update={"redis_url": DEAD})
    return Publisher(dead, spool_dir=spool_dir, install_atexit=False, **kwargs)  # type: ignore[arg-type]


def test_publish_returns_at_once_and_flush_waits_for_redis(
    publisher: Publisher, settings: Settings, redis_conn: redis.Redis
) -> None:
    ids = [publisher.publish("bg:event", {"i": i}) for i in range(1000)]
    assert publisher.flush(timeout=10) is True
    assert stream_ids(redis_conn, settings.stream) == ids
    stats = publisher.stats()
    assert (stats.sent, stats.queued, stats.in_flight, stats.spooled) == (1000, 0, 0, 0)
    assert stats.redis_up and stats.dropped == 0


def test_bad_events_raise_in_the_caller(publisher: Publisher) -> None:
    with pytest.raises(InvalidEvent, match="event name"):
        publisher.publish("bad name!")
    with pytest.raises(InvalidEvent, match="JSON object"):
        publisher.publish("a", [1])  # type: ignore[arg-type]
    assert publisher.stats().queued == 0


def test_a_repeated_key_returns_the_first_id(
    publisher: Publisher, settings: Settings, redis_conn: redis.Redis
) -> None:
    first = publisher.publish("charge", {"n": 1}, idempotency_key="k")
    assert publisher.publish("charge", {"n": 2}, idempotency_key="k") == first
    assert publisher.flush(timeout=10)
    assert stream_ids(redis_conn, settings.stream) == [first]


@pytest.mark.timeout(30)
def test_while_redis_is_down_events_go_to_the_spool_and_a_new_publisher_sends_them(
    settings: Settings, spool_dir: Path, redis_conn: redis.Redis
) -> None:
    down = dead_publisher(settings, spool_dir, flush_interval=0.05)
    ids = [down.publish("bg:outage", {"i": i}) for i in range(300)]
    assert down.flush(timeout=0.5) is False
    stats = down.stats()
    assert not stats.redis_up and "127.0.0.1:1" in (stats.last_error or "")
    assert down.close(timeout=0) is False
    assert Spool(spool_dir, max_bytes=2**30).count() == 300  # every event, on disk

    back = Publisher(settings, spool_dir=spool_dir, install_atexit=False)
    try:
        assert back.flush(timeout=10) is True
        assert back.stats().sent == 300
    finally:
        back.close()
    assert stream_ids(redis_conn, settings.stream) == ids  # in order
    assert Spool(spool_dir, max_bytes=2**30).count() == 0


def test_a_full_spool_drops_new_events_and_counts_them_exactly(
    settings: Settings, spool_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Each entry is about 220 bytes: 10 KB holds some of 200, not all.
    down = dead_publisher(
        settings, spool_dir, spool_max_bytes=10_000, queue_size=50, flush_interval=0.05
    )
    for i in range(200):
        down.publish("bg:full", {"i": i})
    down.close(timeout=0)
    spool = Spool(spool_dir, max_bytes=10_000)
    status = spool.status()
    assert 0 < status.events < 200 and status.bytes <= 10_000
    assert down.stats().dropped == status.dropped == 200 - status.events
    kept = [json.loads(e.entry)["payload"]["i"] for e in spool.head(200)]
    assert kept == list(range(len(kept)))  # drop_new keeps the oldest, each once, in order
    assert "spool at" in caplog.text and "is full" in caplog.text


@pytest.mark.timeout(30)
@pytest.mark.parametrize("answered", [True, False], ids=["redis-took-it", "send-failed"])
def test_the_batch_being_sent_is_spooled_ahead_of_newer_events(
    settings: Settings, spool_dir: Path, redis_conn: redis.Redis, answered: bool
) -> None:
    """The caller fills the queue while the thread's send hangs: the batch being sent is
    older, so it reaches the spool first; when Redis then takes it, it leaves the spool
    again, and nothing is sent twice."""
    target = urlsplit(settings.redis_url)
    with CutProxy(target.port or 6379) as proxy:
        slow = settings.model_copy(
            update={"redis_url": f"redis://127.0.0.1:{proxy.port}{target.path}"}
        )
        publisher = Publisher(slow, spool_dir=spool_dir, queue_size=20, install_atexit=False)
        try:
            ids = [publisher.publish("bg:warm")]
            assert publisher.flush(timeout=10)  # connected, script loaded
            proxy.hold(b"EVALSHA")
            ids.append(publisher.publish("bg:held", {"i": 0}))
            assert proxy.holding.wait(10)
            ids += [publisher.publish("bg:newer", {"i": i}) for i in range(1, 21)]  # 20: full
            spooled = [json.loads(e.entry)["payload"]["i"] for e in publisher.spool.head(100)]
            assert spooled == list(range(21))
            proxy.release(forward=answered)
            assert publisher.flush(timeout=10) is True
            assert publisher.stats().sent == 22
        finally:
            publisher.close(timeout=5)
    assert stream_ids(redis_conn, settings.stream) == ids
    assert Spool(spool_dir, max_bytes=2**30).count() == 0


def test_drop_oldest_keeps_the_newest(settings: Settings, spool_dir: Path) -> None:
    down = dead_publisher(
        settings,
        spool_dir,
        spool_max_bytes=10_000,
        queue_size=50,
        on_spool_full="drop_oldest",
        flush_interval=0.05,
    )
    for i in range(200):
        down.publish("bg:full", {"i": i})
    down.close(timeout=0)
    spool = Spool(spool_dir, max_bytes=10_000)
    kept = [json.loads(e.entry)["payload"]["i"] for e in spool.head(200)]
    assert kept == list(range(200 - len(kept), 200))
    assert down.stats().dropped == spool.status().dropped == 200 - len(kept)


def test_a_forked_child_publishes_through_its_own_thread(
    publisher: Publisher, settings: Settings, redis_conn: redis.Redis
) -> None:
    parent_first = publisher.publish("fork:parent")
    assert publisher.flush(timeout=10)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            publisher.publish("fork:child")
            stats = publisher.stats()
            code = 0 if publisher.flush(timeout=10) and publisher.stats().sent == 1 else 2
            code = code if stats.sent == 0 else 3  # nothing inherited from the parent
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    publisher.publish("fork:parent")
    assert publisher.flush(timeout=10)
    names = [
        json.loads(fields[STREAM_FIELD])["name"] for _, fields in redis_conn.xrange(settings.stream)
    ]
    assert names == ["fork:parent", "fork:child", "fork:parent"]
    assert stream_ids(redis_conn, settings.stream)[0] == parent_first
    assert publisher.stats().sent == 2


def test_the_default_publisher_is_shared(monkeypatch: pytest.MonkeyPatch) -> None:
    import eventrouter

    assert eventrouter.publisher() is eventrouter.publisher()


@pytest.mark.timeout(30)
def test_block_makes_the_caller_wait_for_room(
    settings: Settings, spool_dir: Path, redis_conn: redis.Redis
) -> None:
    """Spool full under ``block``: publish() waits; a Publisher on live Redis sharing the
    spool drains it meanwhile, and nothing is dropped."""
    down = dead_publisher(
        settings,
        spool_dir,
        spool_max_bytes=5_000,
        queue_size=10,
        on_spool_full="block",
        flush_interval=0.05,
    )
    for i in range(30):  # about 22 entries fit: the rest wait in memory
        down.publish("bg:block", {"i": i})
    helper = Publisher(settings, spool_dir=spool_dir, install_atexit=False)
    draining = threading.Thread(target=helper.flush, args=(20,))
    draining.start()
    try:
        for i in range(30, 60):
            down.publish("bg:block", {"i": i})  # waits for room whenever the spool is full
        down.close(timeout=10)  # what is still in memory goes to the spool, given room
        deadline = time.monotonic() + 20
        while helper.spool.count() and time.monotonic() < deadline:
            helper.flush(timeout=1)
    finally:
        draining.join()
        helper.close()
    assert down.stats().dropped == 0
    payloads = [
        json.loads(fields[STREAM_FIELD])["payload"]["i"]
        for _, fields in redis_conn.xrange(settings.stream)
    ]
    assert sorted(payloads) == list(range(60))


_EXITING_PRODUCER = """
import eventrouter
for i in range(200):
    eventrouter.publisher().publish("bg:exit", {"i": i})
"""


@pytest.mark.timeout(60)
@pytest.mark.parametrize("redis_up", [True, False], ids=["redis-up", "redis-down"])
def test_interpreter_exit_sends_what_is_left_within_the_exit_timeout(
    settings: Settings, spool_dir: Path, redis_conn: redis.Redis, redis_up: bool
) -> None:
    """No flush() in the program: atexit sends the queue, or, with Redis down, gives up
    after EVENTROUTER_PUBLISHER_EXIT_TIMEOUT and leaves it in the spool."""
    env = {
        **os.environ,
        "EVENTROUTER_REDIS_URL": settings.redis_url if redis_up else DEAD,
        "EVENTROUTER_STREAM": settings.stream,
        "EVENTROUTER_SPOOL_DIR": str(spool_dir),
        "EVENTROUTER_PUBLISHER_EXIT_TIMEOUT": "1",
    }
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", _EXITING_PRODUCER], env=env, capture_output=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - began < 15
    spooled = Spool(spool_dir, max_bytes=2**30).count()
    if redis_up:
        assert (redis_conn.xlen(settings.stream), spooled) == (200, 0)
    else:
        assert (redis_conn.exists(settings.stream), spooled) == (0, 200)
        assert b"they wait in the spool" in done.stderr
