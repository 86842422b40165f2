"""Fault 5: Postgres stops for 10 s and starts again.

Runs on a private Postgres cluster (never the machine's shared one). Meanwhile
``publish()`` keeps working (it needs only Redis), the router waits with backoff and
replays its unstored batch, workers wait out the outage inside the task, and no process
exits. When Postgres is back, everything published during the outage is delivered.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eventrouter import publish as router_publish
from tests.chaos.harness import (
    PostgresCluster,
    RedisServer,
    Stack,
    assert_nothing_lost,
    create_database,
    publishing,
    report,
    wait_for,
)
from tests.receiver import Receiver, Request, Response

OUTAGE_SECONDS = 10


@pytest.fixture
def private_stack(
    tmp_path: Path, redis_server: RedisServer
) -> Iterator[tuple[Stack, PostgresCluster]]:
    cluster = PostgresCluster(tmp_path)
    try:
        cluster.init()
        cluster.start()
        url = create_database(cluster.url, "eventrouter")
        stack = Stack(tmp_path, redis_server.url, url)
        stack.migrate()
        yield stack, cluster
        stack.stop_all()
    finally:
        cluster.destroy()


def test_postgres_stopped_for_ten_seconds(
    private_stack: tuple[Stack, PostgresCluster], receiver: Receiver
) -> None:
    stack, cluster = private_stack
    # One request is held at the receiver until Postgres is down, so a worker is surely
    # inside a task when the outage starts and must record into it (with batched, laned
    # deliveries a worker is otherwise often idle at that instant).
    released = threading.Event()

    def hold_marked(request: Request, _seen: int) -> Response:
        if ((request.json or {}).get("payload") or {}).get("hold"):
            released.wait(60)
        return Response(200, "ok")

    receiver.set_behaviour(hold_marked)
    stack.route("chaos", "chaos:.*", {"hook": receiver.url_for("/hook")})
    router = stack.start_router()
    worker = stack.start_worker()
    stack.wait_worker_ready(worker)
    with publishing(stack.settings, rate=250) as publisher:
        wait_for(lambda: len(receiver.accepted_ids()) >= 500, 60, "steady deliveries")
        router_publish("chaos:hold", {"hold": True}, settings=stack.settings)
        wait_for(
            lambda: any(
                ((r.json or {}).get("payload") or {}).get("hold") for r in receiver.requests()
            ),
            60,
            "the held request to reach the receiver",
        )
        stack.engine.dispose()
        cluster.stop()
        stopped_at = time.monotonic()
        published_before = len(publisher.ids)
        time.sleep(1)
        released.set()  # the worker now records into a stopped Postgres, and waits
        time.sleep(OUTAGE_SECONDS - 1)
        published_during = len(publisher.ids) - published_before
        assert router.alive() and worker.alive(), "a process exited during the outage"
        cluster.start()
        started_at = time.monotonic()
        keys_before = list(publisher.keys)
        stack.wait_delivered(
            keys_before, "everything published before Postgres came back to be delivered"
        )
        recovery = time.monotonic() - started_at
        time.sleep(2)
    verdict = assert_nothing_lost(stack, publisher, receiver)
    router_retries = router.output().count("Postgres at")
    report(
        f"Postgres stopped {OUTAGE_SECONDS}s",
        published=verdict.published,
        published_during_outage=published_during,
        publish_errors=len(publisher.errors),
        recovery_after_start=recovery,
        router_retries=router_retries,
        duplicate_requests=verdict.duplicate_requests,
        duplicate_accepts=verdict.duplicate_accepts,
        outage=started_at - stopped_at,
    )
    assert router.alive() and worker.alive()
    assert not publisher.errors, "publish() must not need Postgres"
    assert published_during >= 250 * OUTAGE_SECONDS * 0.5
    # Backoff, not a spin: a handful of retries over the outage.
    assert 1 <= router_retries <= 20
    assert "Postgres unavailable" in worker.output()
    assert verdict.duplicate_accepts <= 2 * stack.settings.delivery_batch_size
