"""Fault: the Celery broker is a separate Redis (``EVENTROUTER_BROKER_URL``), and it is down.

Routers keep storing what is published: the stream lives on the other Redis, and a
broker that cannot be reached stops only the dispatching. The deliveries wait in
Postgres, undispatched; once the broker is back the scheduler hands them to the workers.
"""

from __future__ import annotations

import time
from pathlib import Path

from eventrouter import publish_many
from tests.chaos.harness import RedisServer, Stack, report, wait_for
from tests.receiver import Receiver


def test_with_the_broker_down_events_are_stored_and_delivered_once_it_is_back(
    stack: Stack, receiver: Receiver, tmp_path: Path
) -> None:
    broker_dir = tmp_path / "broker"
    broker_dir.mkdir()
    broker = RedisServer(broker_dir)  # not started: nothing listens on its port yet
    stack.env["EVENTROUTER_BROKER_URL"] = broker.url
    stack.route("chaos", "chaos:.*", {"hook": receiver.url_for("/hook")})
    router = stack.start_router()
    try:
        ids = publish_many(
            [{"name": "chaos:tick", "payload": {"n": i}} for i in range(200)],
            settings=stack.settings,
        )
        stored_in = wait_for(
            lambda: stack.scalar("SELECT count(*) FROM events") == len(ids),
            30,
            "the events to be stored while the broker is down",
        )
        assert stack.scalar("SELECT count(*) FROM deliveries WHERE status = 'pending'") == 200
        assert router.alive()

        broker.start()
        back_at = time.monotonic()
        worker = stack.start_worker()
        stack.wait_worker_ready(worker)
        wait_for(
            lambda: (
                stack.scalar("SELECT count(*) FROM deliveries WHERE status = 'succeeded'")
                == len(ids)
            ),
            120,
            "every delivery to succeed once the broker is back",
        )
        delivered_in = time.monotonic() - back_at
    except AssertionError:
        print(stack.status_counts())
        print(stack.logs())
        raise
    finally:
        broker.kill()
    assert receiver.accepted_ids("/hook") == set(ids)
    assert "Celery broker unavailable" in router.output()
    report(
        "Celery broker down (separate Redis)",
        published=len(ids),
        stored_while_down=stored_in,
        delivered_after_it_came_back=delivered_in,
    )
