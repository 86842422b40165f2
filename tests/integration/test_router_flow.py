"""How the router paces itself: backpressure from the delivery queue, lingering in a flow.

Real Redis and Postgres; Celery is replaced by a recorder whose queue length the test sets.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import pytest
import redis
from sqlalchemy import Engine

import eventrouter
from eventrouter.router import stream as stream_module
from eventrouter.router.dispatch import BrokerGuard, Dispatcher
from eventrouter.router.service import RouterService
from eventrouter.router.settings import Settings
from eventrouter.router.stream import GROUP
from tests.helpers import RecordingDispatcher, Seed, rows


class QueueDispatcher(RecordingDispatcher):
    """A recorder that also reports how many tasks wait in its (pretend) queue."""

    def __init__(self) -> None:
        super().__init__()
        self.queued = 0
        self.asked = 0

    def waiting(self) -> int:
        self.asked += 1
        return self.queued


@pytest.fixture
def routed(seed: Seed) -> None:
    channel = seed.channel("payment:.*")
    destination = seed.destination()
    seed.subscription([channel], [destination])


def _service(settings: Settings, engine: Engine, dispatcher: Any, **changes: Any) -> RouterService:
    service = RouterService(
        settings.model_copy(update=changes), engine=engine, dispatcher=dispatcher, consumer="t"
    )
    service.reader.ensure_group()
    return service


def _unread(conn: redis.Redis, stream: str) -> int:
    (group,) = [g for g in conn.xinfo_groups(stream) if g["name"] == GROUP.encode()]
    return int(group["lag"] or 0)


def test_a_full_delivery_queue_stops_reading_until_it_drains(
    settings: Settings, clean_db: Engine, redis_conn: redis.Redis, routed: None
) -> None:
    dispatcher = QueueDispatcher()
    service = _service(settings, clean_db, dispatcher, max_queued_tasks=5)
    eventrouter.publish_many([("payment:failed", {"i": i}) for i in range(3)], settings=settings)
    dispatcher.queued = 5
    assert service.step() == 0
    assert _unread(redis_conn, settings.stream) == 3
    assert dispatcher.calls == []
    service._next_queue_check = 0.0  # the queue is looked at every 0.1 s
    dispatcher.queued = 4
    assert service.step() == 3
    assert len(dispatcher.pairs) == 3


def test_no_limit_and_dispatchers_without_a_queue_are_never_throttled(
    settings: Settings, clean_db: Engine, routed: None
) -> None:
    unlimited = QueueDispatcher()
    unlimited.queued = 10**6
    service = _service(settings, clean_db, unlimited, max_queued_tasks=0)
    eventrouter.publish("payment:failed", {}, settings=settings)
    assert service.step() == 1
    assert unlimited.asked == 0
    plain = RecordingDispatcher()
    service = _service(settings, clean_db, plain, max_queued_tasks=1)
    eventrouter.publish("payment:failed", {}, settings=settings)
    assert service.step() == 1


def test_celery_dispatcher_counts_its_waiting_tasks(settings: Settings) -> None:
    dispatcher = Dispatcher(settings)
    try:
        assert dispatcher.waiting() == 0  # the queue does not exist yet
        dispatcher.dispatch([(1, 7), (2, 7), (3, 8)])
        assert dispatcher.waiting() == 2
    finally:
        dispatcher._celery.close()


def test_in_a_flow_the_router_lingers_to_batch_what_follows(
    settings: Settings, clean_db: Engine, routed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    dispatcher = RecordingDispatcher()
    service = _service(settings, clean_db, dispatcher, router_linger_ms=20)
    slept: list[float] = []

    def sleep_while_more_arrive(seconds: float) -> None:
        slept.append(seconds)
        eventrouter.publish_many(
            [("payment:failed", {"late": i}) for i in range(2)], settings=settings
        )

    monkeypatch.setattr(stream_module.time, "sleep", sleep_while_more_arrive)
    eventrouter.publish("payment:failed", {"n": 1}, settings=settings)
    assert service.step() == 1  # a lone event: stored at once
    eventrouter.publish("payment:failed", {"n": 2}, settings=settings)
    assert service.step() == 3  # a flow: it waited, and took the two that came meanwhile
    assert len(slept) == 1 and 0 < slept[0] <= 0.02  # the rest of 20 ms since it arrived
    assert [len(call) for call in dispatcher.calls] == [1, 3]


def test_in_a_flow_an_event_that_waited_its_linger_already_goes_at_once(
    settings: Settings, clean_db: Engine, routed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An event that arrived while the previous batch was stored has waited already: the
    linger counts from its arrival in the stream, not from the read."""
    service = _service(settings, clean_db, RecordingDispatcher(), router_linger_ms=20)
    eventrouter.publish("payment:failed", {"n": 1}, settings=settings)
    assert service.step() == 1
    eventrouter.publish("payment:failed", {"n": 2}, settings=settings)
    time.sleep(0.03)  # stored later than its linger allows, as behind a long batch
    slept: list[float] = []
    monkeypatch.setattr(stream_module.time, "sleep", slept.append)
    assert service.step() == 1
    assert slept == []


def test_linger_zero_never_waits(
    settings: Settings, clean_db: Engine, routed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = _service(settings, clean_db, RecordingDispatcher(), router_linger_ms=0)
    slept: list[float] = []
    monkeypatch.setattr(stream_module.time, "sleep", slept.append)
    for _ in range(3):
        eventrouter.publish("payment:failed", {}, settings=settings)
        assert service.step() == 1
    assert slept == []


# -- the Celery broker unreachable ------------------------------------------------------------
def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_with_the_broker_down_events_are_still_stored(
    settings: Settings, clean_db: Engine, redis_conn: redis.Redis, routed: None
) -> None:
    """A separate broker (EVENTROUTER_BROKER_URL) that is down used to make the queue
    check raise at every step: the router stored nothing from the stream."""
    down = settings.model_copy(
        update={"broker_url": f"redis://127.0.0.1:{_closed_port()}/0", "max_queued_tasks": 5}
    )
    service = RouterService(down, engine=clean_db, consumer="t")
    service.reader.ensure_group()
    ids = eventrouter.publish_many([("payment:failed", {"i": i}) for i in range(3)], settings=down)
    began = time.monotonic()
    assert service.step() == 3
    assert time.monotonic() - began < 5  # no long connection retries on the hot path
    assert {str(r.id) for r in rows(clean_db, "SELECT id FROM events")} == set(ids)
    states = rows(clean_db, "SELECT status, dispatched_at FROM deliveries")
    # Left for the scheduler: not marked dispatched, so it sends them once the broker is back.
    assert [(s.status, s.dispatched_at) for s in states] == [("pending", None)] * 3
    assert redis_conn.xlen(down.stream) == 0


def test_deliveries_stored_while_the_broker_was_down_go_out_once_it_is_back(
    settings: Settings, clean_db: Engine, routed: None
) -> None:
    recorder = RecordingDispatcher()
    recorder.fail = ConnectionError("broker down")
    broker = BrokerGuard(recorder, retry_seconds=0.2)
    service = _service(settings, clean_db, broker)
    eventrouter.publish_many([("payment:failed", {"i": i}) for i in range(3)], settings=settings)
    assert service.step() == 3
    assert recorder.calls == []
    recorder.fail = None
    time.sleep(0.25)
    service._next_tick = 0.0  # the scheduler ticks every scheduler_interval_seconds
    service.step()
    # At the first tick after it is back, not after dispatch_grace_seconds.
    stored = [row.id for row in rows(clean_db, "SELECT id FROM deliveries ORDER BY id")]
    assert len(stored) == 3 and sorted(recorder.delivery_ids) == stored
