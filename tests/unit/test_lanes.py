"""workers.lanes: a batch split over threads, and what the watching thread sees of it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from eventrouter.router.db.claims import ClaimedDelivery
from eventrouter.router.destinations import Outcome
from eventrouter.router.events import Event
from eventrouter.workers.bookkeeping import AttemptResult
from eventrouter.workers.lanes import Lanes


def _deliveries(count: int) -> list[ClaimedDelivery]:
    return [
        ClaimedDelivery(i, 1, Event(id=f"e{i}", name="a:b", org="o", env=None))
        for i in range(count)
    ]


def _ok(delivery: ClaimedDelivery) -> AttemptResult:
    return AttemptResult(delivery, Outcome.succeeded(200), datetime.now(UTC), 0)


def test_every_delivery_is_sent_once_over_the_lanes() -> None:
    seen: list[int] = []
    threads: set[str] = set()

    def send(delivery: ClaimedDelivery) -> AttemptResult:
        seen.append(delivery.id)
        threads.add(threading.current_thread().name)
        return _ok(delivery)

    lanes = Lanes(send, _deliveries(50), 4, go_on=lambda: True).start()
    assert lanes.wait(10)
    results, in_flight, unsent = lanes.take_all()
    assert sorted(seen) == list(range(50))
    assert sorted(r.delivery.id for r in results) == list(range(50))
    assert (in_flight, unsent) == ([], [])
    assert threading.current_thread().name not in threads


def test_a_split_mid_batch_holds_each_delivery_exactly_once() -> None:
    """Results, requests out and never sent: the three parts of the batch, disjoint and
    complete; an answer arriving after the split is not reported again."""
    release = threading.Event()
    started = threading.Semaphore(0)

    def send(delivery: ClaimedDelivery) -> AttemptResult:
        if delivery.id >= 2:  # the first two answer at once, the next ones hang
            started.release()
            release.wait(10)
        return _ok(delivery)

    lanes = Lanes(send, _deliveries(10), 3, go_on=lambda: True).start()
    for _ in range(3):  # every lane is out with a hanging request
        assert started.acquire(timeout=10)
    results, in_flight, unsent = lanes.take_all()
    ids = [r.delivery.id for r in results] + [f.delivery.id for f in in_flight]
    ids += [d.id for d in unsent]
    assert sorted(ids) == list(range(10))
    assert len(in_flight) == 3 and sorted(r.delivery.id for r in results) == [0, 1]
    release.set()
    assert lanes.wait(10)
    assert lanes.take_results() == []


def test_a_slow_answer_halts_the_lanes() -> None:
    lanes = Lanes(
        _ok, _deliveries(20), 1, go_on=lambda: True, after_each=lambda r: r.delivery.id == 4
    ).start()
    assert lanes.wait(10)
    results, _, unsent = lanes.take_all()
    assert [r.delivery.id for r in results] == [0, 1, 2, 3, 4]
    assert [d.id for d in unsent] == list(range(5, 20))


def test_no_lane_starts_once_told_to_stop() -> None:
    lanes = Lanes(_ok, _deliveries(5), 2, go_on=lambda: False).start()
    assert lanes.wait(10)
    results, in_flight, unsent = lanes.take_all()
    assert (results, in_flight, len(unsent)) == ([], [], 5)


def test_an_error_outside_send_reaches_the_watcher() -> None:
    def send(delivery: ClaimedDelivery) -> AttemptResult:
        raise KeyboardInterrupt

    lanes = Lanes(send, _deliveries(3), 2, go_on=lambda: True).start()
    try:
        lanes.wait(10)
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the lane's error was swallowed")
