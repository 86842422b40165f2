"""Fault 4: Redis dies (``kill -9``) and restarts, with AOF on (``appendfsync everysec``).

Events published but not yet routed wait in the stream, which the AOF brings back;
routers and workers reconnect with backoff. Without persistence, the same restart loses
exactly the events that were still in the stream: measured here too, for the README.
"""

from __future__ import annotations

import os
import signal
import time

import redis

from eventrouter import publish_many
from tests.chaos.harness import (
    RedisServer,
    Stack,
    assert_nothing_lost,
    publishing,
    report,
    wait_for,
)
from tests.receiver import Receiver


def _publish_then_restart(
    stack: Stack, redis_server: RedisServer, backlog: int
) -> tuple[list[str], float, float]:
    """Publish ``backlog`` events no router will read, kill -9 Redis, restart it 3 s
    later. Return the backlog's ids, the outage and when it began."""
    unrouted = publish_many(
        [{"name": "chaos:backlog", "payload": {"n": i}} for i in range(backlog)],
        settings=stack.settings,
    )
    client = redis.Redis.from_url(redis_server.url)
    assert client.xlen(stack.settings.stream) >= backlog
    client.close()
    time.sleep(1.5)  # let the AOF fsync (everysec)
    down_at = time.monotonic()
    redis_server.kill()
    time.sleep(3)  # publish() raises PublishError meanwhile; producers retry
    redis_server.start()
    return unrouted, time.monotonic() - down_at, down_at


def test_redis_killed_and_restarted_with_aof_loses_nothing(
    stack: Stack, redis_server: RedisServer, receiver: Receiver
) -> None:
    stack.route("chaos", "chaos:.*", {"hook": receiver.url_for("/hook")})
    stack.start_router()
    worker = stack.start_worker()
    stack.wait_worker_ready(worker)
    with publishing(stack.settings, rate=250) as publisher:
        wait_for(lambda: len(receiver.accepted_ids()) >= 500, 60, "steady deliveries")
        router = stack.procs[0]
        os.kill(router.pid, signal.SIGSTOP)  # a hung router: the backlog stays unrouted
        try:
            unrouted, outage, down_at = _publish_then_restart(stack, redis_server, 2000)
        finally:
            os.kill(router.pid, signal.SIGCONT)  # it must reconnect by itself
        wait_for(
            lambda: (
                stack.scalar(
                    """
                SELECT count(*) FROM deliveries d
                WHERE d.event_id = ANY(CAST(:ids AS uuid[])) AND d.status = 'succeeded'
                """,
                    ids=unrouted,
                )
                == len(unrouted)
            ),
            120,
            "the events that were in the stream to be delivered",
        )
        recovery = time.monotonic() - down_at
        # The stream keeps flowing after the restart, through both processes.
        count = len(receiver.accepted_ids())
        wait_for(lambda: len(receiver.accepted_ids()) > count + 500, 60, "deliveries after")
    verdict = assert_nothing_lost(stack, publisher, receiver)
    assert set(unrouted) <= receiver.accepted_ids()
    report(
        "Redis kill -9 + restart, AOF everysec",
        published=verdict.published + len(unrouted),
        unrouted_at_kill=len(unrouted),
        redis_down=outage,
        recovery=recovery,
        publish_errors=len(publisher.errors),
        events_published_twice=stack.scalar(
            "SELECT count(*) FROM events WHERE duplicate_of IS NOT NULL"
        ),
        duplicate_requests=verdict.duplicate_requests,
        duplicate_accepts=verdict.duplicate_accepts,
    )
    assert publisher.errors, "publish() should have raised PublishError while Redis was down"
    assert verdict.duplicate_accepts <= stack.settings.delivery_batch_size


def test_without_persistence_a_redis_restart_loses_the_unrouted_events(
    stack: Stack, redis_server: RedisServer, receiver: Receiver
) -> None:
    redis_server.kill()
    redis_server.appendonly = False
    redis_server.start()
    stack.route("chaos", "chaos:.*", {"hook": receiver.url_for("/hook")})
    stack.start_router()
    worker = stack.start_worker()
    stack.wait_worker_ready(worker)
    publish_many([("chaos:before", {"n": i}) for i in range(200)], settings=stack.settings)
    wait_for(lambda: len(receiver.accepted_ids()) >= 200, 60, "deliveries before the restart")
    stack.procs[0].stop()  # no router reads the backlog
    unrouted, _, _ = _publish_then_restart(stack, redis_server, 1000)
    stack.start_router()
    # Routers recreate the consumer group and carry on with new events.
    after = publish_many([("chaos:after", {"n": i}) for i in range(200)], settings=stack.settings)
    wait_for(lambda: set(after) <= receiver.accepted_ids(), 60, "events after the restart")
    stored = stack.scalar(
        "SELECT count(*) FROM events WHERE id = ANY(CAST(:ids AS uuid[]))", ids=unrouted
    )
    report(
        "Redis restart without persistence", unrouted_at_restart=len(unrouted), lost=1000 - stored
    )  # type: ignore[operator]
    assert stored == 0, "without AOF the unrouted events should be gone"
