"""router.scheduler.Scheduler on real Postgres; Celery replaced by a recording dispatcher."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Engine

from eventrouter.router.durations import parse_schedule
from eventrouter.router.scheduler import Scheduler
from eventrouter.router.settings import Settings
from tests.helpers import RecordingDispatcher, Seed, rows


@pytest.fixture
def scheduler(settings: Settings, clean_db: Engine, dispatcher: RecordingDispatcher) -> Scheduler:
    return Scheduler(settings, clean_db, dispatcher)  # type: ignore[arg-type]


@pytest.fixture
def destination(seed: Seed) -> int:
    return seed.destination()


def delivery(engine: Engine, delivery_id: int) -> Any:
    (row,) = rows(engine, "SELECT * FROM deliveries WHERE id = :id", id=delivery_id)
    return row


def test_due_pending_rows_are_dispatched_once(
    scheduler: Scheduler,
    seed: Seed,
    destination: int,
    dispatcher: RecordingDispatcher,
    clean_db: Engine,
) -> None:
    ids = [seed.delivery(seed.event(), destination) for _ in range(3)]
    assert scheduler.tick() == 3
    assert sorted(dispatcher.pairs) == [(i, destination) for i in ids]
    assert all(delivery(clean_db, i).dispatched_at is not None for i in ids)

    dispatcher.clear()
    assert scheduler.tick() == 0  # within the grace period: the task is on its way
    assert dispatcher.calls == []


def test_dispatched_rows_go_out_again_after_the_grace_period(
    scheduler: Scheduler, seed: Seed, destination: int, dispatcher: RecordingDispatcher
) -> None:
    # grace is 5s in the test settings
    lost = seed.delivery(seed.event(), destination, dispatched_ago=6)
    recent = seed.delivery(seed.event(), destination, dispatched_ago=2)
    assert scheduler.tick() == 1
    assert dispatcher.delivery_ids == [lost]
    assert recent not in dispatcher.delivery_ids


def test_future_retries_wait_for_their_time(
    scheduler: Scheduler, seed: Seed, destination: int, dispatcher: RecordingDispatcher
) -> None:
    later = seed.delivery(seed.event(), destination, due_in=60, attempt_count=1)
    now = seed.delivery(seed.event(), destination, due_in=-1, attempt_count=1)
    assert scheduler.tick() == 1
    assert dispatcher.delivery_ids == [now]
    assert later not in dispatcher.delivery_ids


@pytest.mark.parametrize("status", ["delivering", "succeeded", "failed", "cancelled"])
def test_only_pending_rows_are_dispatched(
    scheduler: Scheduler,
    seed: Seed,
    destination: int,
    dispatcher: RecordingDispatcher,
    status: str,
) -> None:
    seed.delivery(seed.event(), destination, status=status, lease_expires_in=60)
    assert scheduler.tick() == 0
    assert dispatcher.calls == []


def test_rows_of_deleted_destinations_are_not_dispatched(
    scheduler: Scheduler,
    seed: Seed,
    destination: int,
    dispatcher: RecordingDispatcher,
    clean_db: Engine,
) -> None:
    orphan = seed.delivery(seed.event(), destination)
    with clean_db.begin() as conn:
        conn.exec_driver_sql("DELETE FROM destinations WHERE id = %s", (destination,))
    assert delivery(clean_db, orphan).destination_id is None
    assert scheduler.tick() == 0


def test_oldest_due_rows_go_first_and_a_tick_drains_in_chunks(
    scheduler: Scheduler,
    seed: Seed,
    dispatcher: RecordingDispatcher,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("eventrouter.router.scheduler.TICK_LIMIT", 1)
    a, b = seed.destination(), seed.destination()
    newer = seed.delivery(seed.event(), a, due_in=-1)
    older = seed.delivery(seed.event(), b, due_in=-10)
    assert scheduler.tick() == 2
    assert dispatcher.calls == [[(older, b)], [(newer, a)]]


def test_expired_lease_returns_to_pending_with_an_attempt_row(
    scheduler: Scheduler,
    seed: Seed,
    destination: int,
    dispatcher: RecordingDispatcher,
    clean_db: Engine,
) -> None:
    lost = seed.delivery(
        seed.event(), destination, status="delivering", attempt_count=2, lease_expires_in=-1
    )
    held = seed.delivery(
        seed.event(), destination, status="delivering", attempt_count=1, lease_expires_in=60
    )
    assert scheduler.tick() == 1
    row = delivery(clean_db, lost)
    assert row.status == "pending"
    assert row.attempt_count == 2  # the lost attempt counts
    assert row.lease_expires_at is None
    assert "worker lost" in row.last_error
    (attempt,) = rows(clean_db, "SELECT * FROM delivery_attempts WHERE delivery_id = :id", id=lost)
    assert (attempt.attempt_number, attempt.outcome) == (2, "retry")
    assert "worker lost" in attempt.error and "lease expired" in attempt.error
    # ...and it is due at once, so the same tick dispatched it.
    assert dispatcher.delivery_ids == [lost]

    untouched = delivery(clean_db, held)
    assert (untouched.status, untouched.lease_expires_at is not None) == ("delivering", True)
    assert rows(clean_db, "SELECT 1 FROM delivery_attempts WHERE delivery_id = :id", id=held) == []


def test_ticks_in_parallel_dispatch_each_row_once(
    settings: Settings, seed: Seed, destination: int, clean_db: Engine
) -> None:
    with clean_db.begin() as conn:
        event_id = seed.event()
        conn.exec_driver_sql(
            "INSERT INTO events (id, name, org, payload) "
            "SELECT gen_random_uuid(), 'bulk', 'default', '{}' FROM generate_series(1, 2000)"
        )
        conn.exec_driver_sql(
            "INSERT INTO deliveries (event_id, destination_id) "
            "SELECT id, %s FROM events WHERE id <> %s",
            (destination, event_id),
        )
    recorders = [RecordingDispatcher() for _ in range(3)]
    schedulers = [Scheduler(settings, clean_db, r) for r in recorders]  # type: ignore[arg-type]
    barrier = threading.Barrier(len(schedulers))
    counts: list[int] = []

    def run(s: Scheduler) -> None:
        barrier.wait()
        counts.append(s.tick())

    threads = [threading.Thread(target=run, args=(s,)) for s in schedulers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    dispatched = [i for r in recorders for i in r.delivery_ids]
    assert sum(counts) == len(dispatched) == 2000
    assert len(set(dispatched)) == 2000


# -- a worker lost on every attempt ------------------------------------------------------------
def _lost_before(engine: Engine, delivery_id: int, times: int) -> None:
    """Attempt rows of ``times`` earlier attempts whose worker was lost."""
    with engine.begin() as conn:
        for number in range(1, times + 1):
            conn.exec_driver_sql(
                "INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, "
                "duration_ms, outcome, error) VALUES (%s, %s, now(), 0, 'retry', "
                "'worker lost during the attempt (lease expired); retrying')",
                (delivery_id, number),
            )


def test_a_lease_lost_on_the_last_attempt_fails_the_delivery(
    scheduler: Scheduler,
    seed: Seed,
    destination: int,
    dispatcher: RecordingDispatcher,
    clean_db: Engine,
) -> None:
    # The test schedule "1s,1s" allows 3 attempts; this was the third, and the worker
    # was lost on the two before too.
    poison = seed.delivery(
        seed.event(), destination, status="delivering", attempt_count=3, lease_expires_in=-1
    )
    _lost_before(clean_db, poison, 2)
    assert scheduler.tick() == 0
    row = delivery(clean_db, poison)
    assert row.status == "failed"
    assert row.last_error == "worker lost 3 times (lease expired); gave up after 3 attempts"
    assert dispatcher.calls == []
    last = rows(
        clean_db,
        "SELECT * FROM delivery_attempts WHERE delivery_id = :id ORDER BY id DESC LIMIT 1",
        id=poison,
    )[0]
    assert (last.attempt_number, last.outcome) == (3, "failed")
    assert last.error.startswith("worker lost during the attempt")
    (emitted,) = rows(clean_db, "SELECT name, payload FROM system_events")
    assert emitted.name == "delivery:failed"
    assert emitted.payload["delivery_id"] == poison
    assert emitted.payload["error"] == row.last_error


def test_a_lease_lost_with_attempts_left_is_retried_at_once(
    scheduler: Scheduler,
    seed: Seed,
    destination: int,
    dispatcher: RecordingDispatcher,
    clean_db: Engine,
) -> None:
    lost = seed.delivery(
        seed.event(), destination, status="delivering", attempt_count=2, lease_expires_in=-1
    )
    _lost_before(clean_db, lost, 1)
    assert scheduler.tick() == 1
    assert delivery(clean_db, lost).status == "pending"
    assert dispatcher.delivery_ids == [lost]


@pytest.mark.parametrize(
    ("schedule", "attempts"),
    [("", 1), ("5s", 2), (" 5s , ,1m,", 3), ("1s,1s,1s,1s", 5)],
)
def test_a_destinations_own_schedule_decides_when_a_lost_delivery_gives_up(
    scheduler: Scheduler, seed: Seed, clean_db: Engine, schedule: str, attempts: int
) -> None:
    assert len(parse_schedule(schedule)) + 1 == attempts  # counted as the worker reads it
    own = seed.destination(retry_schedule=schedule)
    last = seed.delivery(
        seed.event(), own, status="delivering", attempt_count=attempts, lease_expires_in=-1
    )
    before = seed.delivery(
        seed.event(), own, status="delivering", attempt_count=attempts - 1, lease_expires_in=-1
    )
    scheduler.tick()
    assert delivery(clean_db, last).status == "failed"
    assert delivery(clean_db, last).last_error.startswith("worker lost once (lease expired)")
    if attempts > 1:
        assert delivery(clean_db, before).status == "pending"


# -- deliveries whose destination was removed ----------------------------------------------
def _remove(engine: Engine, destination_id: int) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM destinations WHERE id = %s", (destination_id,))


def test_pending_rows_of_a_removed_destination_are_cancelled(
    scheduler: Scheduler, seed: Seed, destination: int, clean_db: Engine
) -> None:
    orphans = [seed.delivery(seed.event(), destination, due_in=due) for due in (-1, 600)]
    kept = seed.delivery(seed.event(), seed.destination())
    _remove(clean_db, destination)
    scheduler.tick()
    for orphan in orphans:
        row = delivery(clean_db, orphan)
        assert (row.status, row.last_error) == ("cancelled", "destination removed")
    assert delivery(clean_db, kept).status == "pending"


def test_a_lost_lease_of_a_removed_destination_is_cancelled(
    scheduler: Scheduler,
    seed: Seed,
    destination: int,
    dispatcher: RecordingDispatcher,
    clean_db: Engine,
) -> None:
    lost = seed.delivery(
        seed.event(), destination, status="delivering", attempt_count=1, lease_expires_in=-1
    )
    _remove(clean_db, destination)
    assert scheduler.tick() == 0
    row = delivery(clean_db, lost)
    assert (row.status, row.last_error) == ("cancelled", "destination removed")
    (attempt,) = rows(clean_db, "SELECT * FROM delivery_attempts WHERE delivery_id = :id", id=lost)
    assert attempt.error.startswith("worker lost")
    assert dispatcher.calls == []
