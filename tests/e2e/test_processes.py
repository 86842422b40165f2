"""The processes themselves: several routers share a stream, both stop on SIGTERM, and
the Celery app loads the standard way (``celery -A workers worker``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from eventrouter import publish_many
from tests.e2e.stack import BIN, Stack
from tests.receiver import Receiver, ok


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[Stack]:
    """A stack with no processes started."""
    stack = Stack.create(tmp_path)
    try:
        yield stack
    finally:
        stack.destroy()


def route_to(stack: Stack, url: str) -> None:
    stack.cli("channels", "add", "all", "--pattern", ".*")
    stack.cli("destinations", "add", "hook", "--type", "webhook", "--url", url)
    stack.cli("subscriptions", "add", "all", "--channel", "all", "--destination", "hook")


def test_two_routers_share_the_stream_without_duplicates(bare: Stack) -> None:
    with Receiver(ok()) as receiver:
        route_to(bare, receiver.url_for("/hook"))
        first, second = bare.start_router(), bare.start_router()
        bare.start_worker()
        ids: list[str] = []
        for batch in range(10):
            ids += publish_many(
                [("job:done", {"batch": batch, "n": i}) for i in range(50)],
                settings=bare.settings,
            )
        bare.wait_settled(500)
        assert bare.scalar("SELECT count(*) FROM events") == 500
        assert bare.scalar("SELECT count(*) FROM deliveries WHERE status = 'succeeded'") == 500
        by_id = receiver.by_webhook_id()
        assert set(by_id) == set(ids)
        assert max(len(requests) for requests in by_id.values()) == 1
        # Both routers joined the one consumer group and are still running.
        client = redis.Redis.from_url(bare.settings.redis_url)
        consumers = client.xinfo_consumers(bare.stream, "routers")
        assert len(consumers) == 2
        assert first.popen.poll() is None and second.popen.poll() is None


def test_sigterm_stops_router_and_worker_cleanly(bare: Stack) -> None:
    with Receiver(ok()) as receiver:
        route_to(bare, receiver.url_for("/hook"))
        router = bare.start_router()
        worker = bare.start_worker()
        publish_many([("job:done", {"n": i}) for i in range(200)], settings=bare.settings)
        bare.wait_settled(200)
        assert router.stop(timeout=15) == 0, router.output()[-2000:]
        assert worker.stop(timeout=30) == 0, worker.output()[-2000:]
        assert "stopped" in router.output()
        assert "Traceback" not in router.output() + worker.output()
        assert bare.scalar("SELECT count(*) FROM deliveries WHERE status = 'delivering'") == 0


def test_celery_finds_the_app_with_dash_a_eventrouter_workers(bare: Stack) -> None:
    with Receiver(ok()) as receiver:
        route_to(bare, receiver.url_for("/hook"))
        bare.start_router()
        bare.spawn(
            "worker",
            [
                str(BIN / "celery"),
                "-A",
                "eventrouter.workers",
                "worker",
                "--queues",
                bare.queue,
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
            ],
            ready=" ready.",
        )
        publish_many([("job:done", {"n": 1})], settings=bare.settings)
        bare.wait_settled(1)
        assert receiver.count() == 1
