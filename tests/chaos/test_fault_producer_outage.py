"""Fault 9: Redis down while a producer publishes through the background ``Publisher``;
the producer ``kill -9``ed mid-outage.

The producer never sees an exception and never waits on Redis: events go to its disk
spool and drain, in order, once Redis is back. A killed producer loses at most what was
only in memory (the last flush interval); the next producer on the same spool sends the
rest. Every event is stored exactly once (its id is the primary key downstream).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from eventrouter.router.spool import Spool
from tests.chaos.harness import HERE, Proc, RedisServer, Stack, report, wait_for

OUTAGE_SECONDS = 6.0
FLUSH_INTERVAL = 0.2


def _producer(stack: Stack, spool: Path, name: str, *args: str) -> tuple[Proc, Path, Path]:
    ids, out = stack.workdir / f"{name}.ids", stack.workdir / f"{name}.json"
    env = {
        **stack.env,
        "EVENTROUTER_SPOOL_DIR": str(spool),
        "EVENTROUTER_PUBLISHER_FLUSH_INTERVAL": str(FLUSH_INTERVAL),
    }
    command = [sys.executable, str(HERE / "producer.py"), "--ids", str(ids), "--report", str(out)]
    proc = Proc(name, [*command, *args], env, stack.workdir / f"{name}.log")
    stack.procs.append(proc)
    return proc, ids, out


def _read_ids(path: Path) -> list[str]:
    """Whole lines only: a kill may cut the last one."""
    text = path.read_text() if path.exists() else ""
    return [line for line in text.split("\n")[:-1] if len(line) == 36]


def _stored(stack: Stack) -> list[str]:
    return [str(r[0]) for r in stack.rows("SELECT id FROM events WHERE name = 'producer:event'")]


def test_redis_down_while_publishing_loses_and_blocks_nothing(
    stack: Stack, redis_server: RedisServer
) -> None:
    stack.start_router()
    spool = stack.workdir / "spool"
    redis_server.stop()
    down_at = time.monotonic()
    proc, ids_path, out = _producer(stack, spool, "producer", "--count", "10000")
    wait_for(out.with_suffix(".published").exists, 60, "the producer's tight loop", 0.05)
    wait_for(lambda: Spool(spool, max_bytes=2**30).count() == 10_000, 30, "all 10,000 spooled")
    remaining = OUTAGE_SECONDS - (time.monotonic() - down_at)
    if remaining > 0:
        time.sleep(remaining)  # the fault itself: Redis stays down this long
    redis_server.start()
    back_at = time.monotonic()
    assert proc.wait(120) == 0, proc.output()
    drained = time.monotonic() - back_at
    result = json.loads(out.read_text())
    assert result["errors"] == []
    assert result["flushed"] and result["sent"] == 10_000 and result["dropped"] == 0
    assert result["p99_ms"] <= 1.0, result
    ids = _read_ids(ids_path)
    assert len(ids) == len(set(ids)) == 10_000
    wait_for(lambda: len(_stored(stack)) >= 10_000, 120, "the router to store 10,000 events")
    stored = _stored(stack)
    assert sorted(stored) == sorted(ids)  # each exactly once, none foreign
    report(
        "producer, Redis down",
        outage=time.monotonic() - down_at - drained,
        events=10_000,
        call_p99_ms=f"{result['p99_ms']:.3f}",
        call_max_ms=f"{result['max_ms']:.1f}",
        spool_drained=drained,
        lost=0,
    )


def test_producer_killed_mid_outage_its_spool_is_sent_by_the_next(
    stack: Stack, redis_server: RedisServer
) -> None:
    stack.start_router()
    spool = stack.workdir / "spool"
    redis_server.stop()
    first, ids_path, _ = _producer(stack, spool, "first", "--count", "100000", "--rate", "2000")
    wait_for(lambda: len(_read_ids(ids_path)) >= 4000, 60, "4,000 events published", 0.05)
    first.kill9()
    published = _read_ids(ids_path)
    on_disk = [e.event_id for e in Spool(spool, max_bytes=2**30).head(100_000)]
    # What was lost is only the newest events, those still in memory.
    assert on_disk == published[: len(on_disk)]
    lost = len(published) - len(on_disk)
    assert lost <= 2000 * FLUSH_INTERVAL * 3, f"{lost} events were only in memory"
    redis_server.start()
    second, _, out = _producer(stack, spool, "second", "--count", "0")
    assert second.wait(120) == 0, second.output()
    assert json.loads(out.read_text())["sent"] == len(on_disk)
    wait_for(lambda: len(_stored(stack)) >= len(on_disk), 120, "the spooled events stored")
    assert sorted(_stored(stack)) == sorted(on_disk)
    assert Spool(spool, max_bytes=2**30).count() == 0
    report(
        "producer kill -9 mid-outage",
        published=len(published),
        spooled=len(on_disk),
        lost_from_memory=lost,
        flush_interval=FLUSH_INTERVAL,
    )
