"""What a batch does when things go wrong around it, on real Postgres and a local receiver:
the time box and shutdown hand unsent work back, a record arriving after the lease was
taken back changes nothing, a poison delivery fails alone, hostile answers are stored,
and a slow destination is served by one slot, in waves, while other tasks defer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis
from sqlalchemy import Engine

from eventrouter.router.db import claims, destination_state, schedule
from eventrouter.router.destinations import KINDS, Outcome, SendContext
from eventrouter.router.scheduler import Scheduler
from eventrouter.router.settings import Settings
from eventrouter.workers.bookkeeping import AttemptResult
from eventrouter.workers.delivery import BatchDelivery, deliver_batch
from eventrouter.workers.pacing import SlowDestinations
from tests.helpers import RecordingDispatcher, Seed, rows
from tests.receiver import Receiver, Request, Response, always, ok, slow


@pytest.fixture
def ctx() -> Iterator[SendContext]:
    with httpx.Client(follow_redirects=False) as http:
        yield SendContext(http=http, default_timeout=5.0)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(ok()) as rx:
        yield rx


def _pending(seed: Seed, destination: int, n: int, **payload: Any) -> list[int]:
    return [seed.delivery(seed.event(payload={"i": i, **payload}), destination) for i in range(n)]


def _states(engine: Engine, ids: list[int]) -> list[Any]:
    return rows(
        engine,
        "SELECT id, status, attempt_count, dispatched_at, lease_expires_at, next_attempt_at "
        "FROM deliveries WHERE id = ANY(:ids) ORDER BY id",
        ids=ids,
    )


def _attempts(engine: Engine, ids: list[int]) -> list[Any]:
    return rows(
        engine,
        "SELECT * FROM delivery_attempts WHERE delivery_id = ANY(:ids) ORDER BY id",
        ids=ids,
    )


# -- time box and shutdown ---------------------------------------------------------------------
def test_the_time_box_hands_the_unsent_rest_back(
    seed: Seed, clean_db: Engine, ctx: SendContext, settings: Settings, receiver: Receiver
) -> None:
    receiver.set_behaviour(slow(0.2))
    destination = seed.destination(receiver.url_for("/hook"))
    ids = _pending(seed, destination, 10)
    boxed = settings.model_copy(update={"delivery_time_box_seconds": 0.5, "delivery_lanes": 1})
    summary = deliver_batch(clean_db, ctx, boxed, destination, ids)
    sent = receiver.count()
    assert 1 <= sent < 10
    assert (summary.claimed, summary.succeeded, summary.released) == (10, sent, 10 - sent)
    states = _states(clean_db, ids)
    assert [s.status for s in states] == ["succeeded"] * sent + ["pending"] * (10 - sent)
    for state in states[sent:]:  # as if never claimed: due now, no attempt used
        assert state.attempt_count == 0
        assert state.dispatched_at is None and state.lease_expires_at is None
    assert len(_attempts(clean_db, ids)) == sent


def test_stop_finishes_the_request_in_flight_and_hands_back_the_rest(
    seed: Seed, clean_db: Engine, ctx: SendContext, settings: Settings, receiver: Receiver
) -> None:
    destination = seed.destination(receiver.url_for("/hook"))
    ids = _pending(seed, destination, 5)
    one_lane = settings.model_copy(update={"delivery_lanes": 1})
    summary = deliver_batch(
        clean_db, ctx, one_lane, destination, ids, stop=lambda: receiver.count() >= 1
    )
    assert (summary.succeeded, summary.released) == (1, 4)
    assert [s.status for s in _states(clean_db, ids)] == ["succeeded"] + ["pending"] * 4
    assert "delivering" not in {s.status for s in _states(clean_db, ids)}


def test_stop_finishes_the_requests_in_flight_across_lanes(
    seed: Seed, clean_db: Engine, ctx: SendContext, settings: Settings, receiver: Receiver
) -> None:
    """Each lane finishes the request it has out (1 to 4 of them when the first arrives)
    and starts no other; every request sent is recorded, the rest handed back."""
    destination = seed.destination(receiver.url_for("/hook"))
    ids = _pending(seed, destination, 10)
    lanes = settings.model_copy(update={"delivery_lanes": 4})
    summary = deliver_batch(
        clean_db, ctx, lanes, destination, ids, stop=lambda: receiver.count() >= 1
    )
    assert 1 <= summary.succeeded <= 4
    assert summary.succeeded == receiver.count() == len(_attempts(clean_db, ids))
    assert summary.released == 10 - summary.succeeded
    assert "delivering" not in {s.status for s in _states(clean_db, ids)}


# -- a late record --------------------------------------------------------------------------------
def test_a_record_after_the_lease_was_taken_back_changes_nothing(
    seed: Seed, clean_db: Engine, ctx: SendContext, settings: Settings, receiver: Receiver
) -> None:
    destination = seed.destination(receiver.url_for("/hook"))
    (delivery_id,) = _pending(seed, destination, 1)

    def lease_expires_meanwhile(request: Request, seen: int) -> Response:
        # While the request is in flight the scheduler decides the worker is lost.
        with clean_db.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE deliveries SET lease_expires_at = now() - interval '1 second'"
            )
            schedule.reclaim_expired_leases(conn, limit=10, default_delays=2)
        return Response(200, b"ok")

    receiver.set_behaviour(lease_expires_meanwhile)
    summary = deliver_batch(clean_db, ctx, settings, destination, [delivery_id])
    assert (summary.succeeded, summary.stale) == (0, 1)
    (state,) = _states(clean_db, [delivery_id])
    assert (state.status, state.attempt_count) == ("pending", 1)  # the scheduler's view stands
    (attempt,) = _attempts(clean_db, [delivery_id])
    assert attempt.error.startswith("worker lost")


# -- hostile answers and poison deliveries ---------------------------------------------------
def test_nul_bytes_in_an_answer_are_recorded_not_fatal(
    seed: Seed, clean_db: Engine, ctx: SendContext, settings: Settings, receiver: Receiver
) -> None:
    receiver.set_behaviour(always(500, b"broken\x00body"))
    destination = seed.destination(receiver.url_for("/hook"))
    ids = _pending(seed, destination, 3)
    summary = deliver_batch(clean_db, ctx, settings, destination, ids)
    assert summary.retrying == 3
    bodies = {a.response_body for a in _attempts(clean_db, ids)}
    assert bodies == {"broken\ufffdbody"}


def test_a_poison_delivery_fails_alone_and_the_batch_goes_out(
    seed: Seed,
    clean_db: Engine,
    ctx: SendContext,
    settings: Settings,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    webhook = KINDS["webhook"]
    real_send = webhook.send

    def send(event: Any, config: Any, attempt: int, context: SendContext) -> Any:
        if event.payload.get("poison"):
            raise RuntimeError("renderer exploded")
        return real_send(event, config, attempt, context)

    monkeypatch.setattr(webhook, "send", send)
    destination = seed.destination(receiver.url_for("/hook"))
    good = _pending(seed, destination, 2)
    (bad,) = _pending(seed, destination, 1, poison=True)
    more = _pending(seed, destination, 2)
    summary = deliver_batch(clean_db, ctx, settings, destination, [*good, bad, *more])
    assert (summary.succeeded, summary.failed) == (4, 1)
    (row,) = rows(clean_db, "SELECT status, last_error FROM deliveries WHERE id = :id", id=bad)
    assert row.status == "failed"
    assert row.last_error == "could not build the request: RuntimeError: renderer exploded"
    assert receiver.count() == 4


# -- slow destinations -------------------------------------------------------------------------
def test_a_slow_destination_is_served_by_one_slot_and_other_tasks_defer(
    seed: Seed, clean_db: Engine, settings: Settings
) -> None:
    destination = seed.destination("http://127.0.0.1:9/never")
    pacer = SlowDestinations(threshold=1.0, workers=1)
    pacer.observe(destination, [2.5])
    assert pacer.is_slow(destination)
    holding = threading.Event()
    done = threading.Event()

    def hold_the_slot() -> None:
        with pacer.slot(clean_db, destination) as free:
            assert free
            holding.set()
            done.wait(10)

    holder = threading.Thread(target=hold_the_slot)
    holder.start()
    try:
        assert holding.wait(10)
        with pacer.slot(clean_db, destination) as free:
            assert not free
        ids = _pending(seed, destination, 3)
        with httpx.Client() as http:
            summary = deliver_batch(
                clean_db, SendContext(http=http), settings, destination, ids, pacer=pacer
            )
        assert (summary.claimed, summary.deferred) == (0, 3)
        for state in _states(clean_db, ids):  # untouched but for the schedule
            assert (state.status, state.attempt_count, state.dispatched_at) == ("pending", 0, None)
        due_in = rows(
            clean_db,
            "SELECT min(next_attempt_at - now()) AS d FROM deliveries WHERE id = ANY(:ids)",
            ids=ids,
        )[0].d
        assert due_in.total_seconds() > settings.delivery_time_box_seconds - 2
    finally:
        done.set()
        holder.join(10)
    with pacer.slot(clean_db, destination) as free:
        assert free  # the holder's transaction ended: the slot is free again


def test_a_slow_destination_is_sent_in_waves_and_forgotten_when_fast_again(
    seed: Seed, clean_db: Engine, ctx: SendContext, settings: Settings, receiver: Receiver
) -> None:
    receiver.set_behaviour(slow(0.5))
    destination = seed.destination(receiver.url_for("/hook"))
    pacer = SlowDestinations(threshold=0.3, workers=1)
    waves = settings.model_copy(
        update={"slow_destination_concurrency": 10, "delivery_time_box_seconds": 30}
    )
    deliver_batch(clean_db, ctx, waves, destination, _pending(seed, destination, 1), pacer=pacer)
    assert pacer.is_slow(destination)
    ids = _pending(seed, destination, 10)
    began = time.monotonic()
    summary = deliver_batch(clean_db, ctx, waves, destination, ids, pacer=pacer)
    assert summary.succeeded == 10
    assert time.monotonic() - began < 10 * 0.5 / 2  # one sequential pass would take 5 s
    receiver.set_behaviour(ok())
    deliver_batch(clean_db, ctx, waves, destination, _pending(seed, destination, 2), pacer=pacer)
    assert not pacer.is_slow(destination)


def test_a_destination_turning_slow_hands_the_rest_back_after_one_wave(
    seed: Seed, clean_db: Engine, ctx: SendContext, settings: Settings, receiver: Receiver
) -> None:
    receiver.set_behaviour(slow(0.5))
    destination = seed.destination(receiver.url_for("/hook"))
    pacer = SlowDestinations(threshold=0.3, workers=1)
    two_lanes = settings.model_copy(update={"delivery_lanes": 2, "delivery_time_box_seconds": 30})
    ids = _pending(seed, destination, 6)
    summary = deliver_batch(clean_db, ctx, two_lanes, destination, ids, pacer=pacer)
    assert (summary.succeeded, summary.released) == (2, 4)
    assert receiver.count() == 2
    assert pacer.is_slow(destination)
    assert sorted(s.status for s in _states(clean_db, ids)) == ["pending"] * 4 + ["succeeded"] * 2


def test_a_wave_still_out_past_the_threshold_tells_every_process_before_it_ends(
    seed: Seed,
    clean_db: Engine,
    ctx: SendContext,
    settings: Settings,
    receiver: Receiver,
    redis_conn: redis.Redis,
    queue_name: str,
) -> None:
    """Two pacers on one Redis stand for two worker processes: while the first one's wave
    waits on a destination answering in 1.5 s, the second already knows it is slow (and
    defers its task to the slot), a second before the wave's answers arrive."""
    receiver.set_behaviour(slow(1.5))
    destination = seed.destination(receiver.url_for("/hook"))
    first, second = (
        SlowDestinations(threshold=0.3, workers=1, shared=redis_conn, prefix=queue_name)
        for _ in range(2)
    )
    two_lanes = settings.model_copy(update={"delivery_lanes": 2, "delivery_time_box_seconds": 30})
    ids = _pending(seed, destination, 4)
    summaries: list[Any] = []
    began = time.monotonic()
    sender = threading.Thread(
        target=lambda: summaries.append(
            deliver_batch(clean_db, ctx, two_lanes, destination, ids, pacer=first)
        )
    )
    sender.start()
    try:
        while not second.is_slow(destination):
            assert time.monotonic() - began < 1.2, "not known before the wave ended"
            time.sleep(0.05)
        assert not summaries  # the wave is still out
    finally:
        sender.join(10)
    assert (summaries[0].succeeded, summaries[0].released) == (2, 2)
    assert redis_conn.pttl(f"{queue_name}:slow:{destination}") > 50_000
    receiver.set_behaviour(ok())  # answering fast again: whoever sends next clears the mark
    deliver_batch(
        clean_db, ctx, two_lanes, destination, _pending(seed, destination, 1), pacer=first
    )
    assert not first.is_slow(destination) and not redis_conn.exists(
        f"{queue_name}:slow:{destination}"
    )


# -- the destination removed while its delivery is in flight -----------------------------------
def _remove(engine: Engine, destination: int) -> None:
    """What `destinations remove` does: cancel the pending rows, delete the destination."""
    with engine.begin() as conn:
        destination_state.cancel_open_deliveries(conn, destination, "destination removed")
        conn.exec_driver_sql("DELETE FROM destinations WHERE id = %s", (destination,))


@pytest.mark.parametrize("way_back", ["retry", "handed back", "deferred"])
def test_a_row_back_to_pending_after_its_destination_was_removed_ends_cancelled(
    seed: Seed,
    clean_db: Engine,
    ctx: SendContext,
    settings: Settings,
    receiver: Receiver,
    dispatcher: RecordingDispatcher,
    way_back: str,
) -> None:
    """A row being sent while its destination is removed comes back to `pending` with no
    destination (the foreign key sets it NULL): nothing could ever send it. It ends
    `cancelled`, whichever way it came back."""
    destination = seed.destination(receiver.url_for("/hook"))
    delivery_id = seed.delivery(seed.event(), destination)
    if way_back == "retry":

        def removed_meanwhile(request: Request, seen: int) -> Response:
            _remove(clean_db, destination)
            return Response(503, b"try later")

        receiver.set_behaviour(removed_meanwhile)
        assert deliver_batch(clean_db, ctx, settings, destination, [delivery_id]).retrying == 1
    else:
        with clean_db.connect() as conn:
            record = claims.load_destination(conn, destination)
        assert record is not None
        batch = BatchDelivery(clean_db, ctx, settings, record)
        (claimed,) = batch.claim([delivery_id])
        _remove(clean_db, destination)
        if way_back == "handed back":
            batch.flush([], release=[claimed])
        else:
            outcome = Outcome.deferred(0.0, "rate limit")
            batch.flush([AttemptResult(claimed, outcome, datetime.now(UTC), 0)])
    assert rows(clean_db, "SELECT status FROM deliveries")[0].status == "pending"
    Scheduler(settings, clean_db, dispatcher).tick()
    (state,) = rows(clean_db, "SELECT * FROM deliveries WHERE id = :id", id=delivery_id)
    assert (state.status, state.last_error) == ("cancelled", "destination removed")
    assert dispatcher.calls == []
