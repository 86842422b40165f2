"""``eventrouter health``: what the Kubernetes probes run, against real processes."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.e2e.stack import REDIS_URL, Stack
from tests.receiver import wait_for


@pytest.fixture(scope="module")
def beating(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Path, Path]]:
    """A router and a worker, each touching its own heartbeat file."""
    workdir = tmp_path_factory.mktemp("health")
    stack = Stack.create(workdir)
    router_file, worker_file = workdir / "router.alive", workdir / "worker.alive"
    try:
        stack.extra_env["EVENTROUTER_HEARTBEAT_FILE"] = str(router_file)
        stack.start_router()
        stack.extra_env["EVENTROUTER_HEARTBEAT_FILE"] = str(worker_file)
        stack.start_worker(concurrency=1)
        yield stack, router_file, worker_file
    finally:
        stack.destroy()


def test_readiness_checks_postgres_schema_and_redis(beating: tuple[Stack, Path, Path]) -> None:
    stack, _, _ = beating
    result = stack.cli("health")
    assert "postgres: ok" in result.stdout and "schema at revision" in result.stdout
    assert "redis: ok" in result.stdout

    stack.extra_env["EVENTROUTER_DATABASE_URL"] = stack.database_url + "_missing"
    try:
        failed = stack.cli("health", check=False)
    finally:
        del stack.extra_env["EVENTROUTER_DATABASE_URL"]
    assert failed.returncode == 1
    assert "postgres: FAIL" in failed.stdout and "_missing" in failed.stdout
    assert "Traceback" not in failed.stdout + failed.stderr


def test_routers_and_workers_keep_their_heartbeat_fresh(beating: tuple[Stack, Path, Path]) -> None:
    stack, router_file, worker_file = beating
    wait_for(lambda: router_file.exists() and worker_file.exists(), timeout=30)
    for path in (router_file, worker_file):
        stack.extra_env["EVENTROUTER_HEARTBEAT_FILE"] = str(path)
        alive = stack.cli("health", "--check", "heartbeat", "--max-age", "30s")
        assert "heartbeat: ok" in alive.stdout
        # A process whose loop stopped turning leaves its file behind: it ages.
        before = path.stat().st_mtime
        wait_for(lambda p=path, t=before: p.stat().st_mtime > t, timeout=30)

    stale = router_file.with_name("stale.alive")
    stale.touch()
    os.utime(stale, (time.time() - 120, time.time() - 120))
    stack.extra_env["EVENTROUTER_HEARTBEAT_FILE"] = str(stale)
    stuck = stack.cli("health", "--check", "heartbeat", "--max-age", "60s", check=False)
    assert stuck.returncode == 1 and "stuck" in stuck.stdout


def test_backlog_counts_unrouted_events_against_its_bound(
    beating: tuple[Stack, Path, Path],
) -> None:
    stack, _, _ = beating
    idle_stream = stack.stream + ":unread"  # a stream no router reads
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.xadd(idle_stream, {"x": "1"})
        client.xadd(idle_stream, {"x": "2"})
        stack.extra_env["EVENTROUTER_STREAM"] = idle_stream
        full = stack.cli("health", "--check", "backlog", "--max-backlog", "1", check=False)
        assert full.returncode == 1 and "2 unrouted event(s)" in full.stdout
        fine = stack.cli("health", "--check", "backlog", "--max-backlog", "5", "--json")
        assert '"ok": true' in fine.stdout
    finally:
        stack.extra_env.pop("EVENTROUTER_STREAM", None)
        client.delete(idle_stream)
        client.close()
