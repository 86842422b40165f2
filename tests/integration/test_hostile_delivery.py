"""deliver_batch on real Postgres against hostile receivers: every attempt is recorded, a
deadline-hit counts as slow, and a task stopped by its soft time limit leaves nothing
``delivering``."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from types import FrameType

import httpx
import pytest
from celery.exceptions import SoftTimeLimitExceeded

from eventrouter.router.destinations import SendContext
from eventrouter.router.destinations.transport import http_client
from eventrouter.router.settings import Settings
from eventrouter.workers.delivery import INTERRUPTED, deliver_batch
from eventrouter.workers.pacing import SlowDestinations
from tests.helpers import Seed, rows
from tests.hostile import HostileServer, status, trickle
from tests.receiver import Receiver, Response


@pytest.fixture
def ctx() -> Iterator[SendContext]:
    client = http_client(5.0)
    yield SendContext(http=client, default_timeout=5.0)
    client.close()


def pending(seed: Seed, destination: int, n: int) -> list[int]:
    return [seed.delivery(seed.event(payload={"i": i}), destination) for i in range(n)]


def states(seed: Seed, ids: list[int]) -> list[tuple[str, int]]:
    found = rows(
        seed.engine,
        "SELECT status, attempt_count FROM deliveries WHERE id = ANY(:ids) ORDER BY id",
        ids=ids,
    )
    return [(r.status, r.attempt_count) for r in found]


def test_a_trickling_receiver_is_a_recorded_timeout_and_counts_as_slow(
    seed: Seed, settings: Settings, ctx: SendContext
) -> None:
    """The timeout (1 s) is below the slow threshold (5 s) on purpose: a request that ran
    into its deadline makes the destination slow whatever its duration."""
    pacer = SlowDestinations(threshold=5.0, workers=1)
    with HostileServer(trickle(interval=0.3)) as server:
        destination = seed.destination(server.url(), timeout=1.0)
        ids = pending(seed, destination, 1)
        began = time.monotonic()
        summary = deliver_batch(seed.engine, ctx, settings, destination, ids, pacer=pacer)
        took = time.monotonic() - began
    assert summary.retrying == 1
    (attempt,) = rows(seed.engine, "SELECT * FROM delivery_attempts")
    assert (attempt.outcome, attempt.http_status) == ("retry", None)
    assert attempt.error == "timed out after 1s"
    assert 950 <= attempt.duration_ms < 1500
    assert took < 3.0
    assert pacer.is_slow(destination)
    assert states(seed, ids) == [("pending", 1)]


def test_an_absurd_status_is_a_recorded_attempt_not_a_lost_batch(
    seed: Seed, settings: Settings, ctx: SendContext
) -> None:
    """Before: 4294967296 reached the int[] record statement, which failed for the whole
    batch; every result was lost and the rows stayed 'delivering' until the lease ended."""
    with HostileServer(status(b"4294967296")) as server:
        destination = seed.destination(server.url())
        ids = pending(seed, destination, 3)
        summary = deliver_batch(seed.engine, ctx, settings, destination, ids)
    assert summary.retrying == 3
    attempts = rows(seed.engine, "SELECT outcome, http_status, error FROM delivery_attempts")
    assert len(attempts) == 3
    for attempt in attempts:
        assert (attempt.outcome, attempt.http_status) == ("retry", None)
        assert attempt.error == (
            "the receiver broke HTTP: status code '4294967296' is not one from 100 to 599"
        )
    assert states(seed, ids) == [("pending", 1)] * 3


def test_a_status_no_column_can_hold_is_never_written(seed: Seed, settings: Settings) -> None:
    """Defence in depth: whatever client an adapter is given, an out-of-range status is
    stored as NULL rather than failing the batch's statement."""
    client = httpx.Client(transport=httpx.MockTransport(lambda _r: httpx.Response(2**40)))
    destination = seed.destination("http://127.0.0.1:9/hook")
    ids = pending(seed, destination, 2)
    summary = deliver_batch(
        seed.engine, SendContext(http=client, default_timeout=1.0), settings, destination, ids
    )
    assert summary.claimed == 2 and summary.stale == 0
    codes = rows(seed.engine, "SELECT http_status FROM delivery_attempts")
    assert [c.http_status for c in codes] == [None, None]
    assert all(state != "delivering" for state, _ in states(seed, ids))


def _soft_time_limit_in(seconds: float) -> None:
    """Raise SoftTimeLimitExceeded in the main thread after ``seconds``, from a signal
    handler: what billiard's pool does to a task at its soft time limit."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SoftTimeLimitExceeded()

    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)


@pytest.mark.parametrize("lanes", [1, 4])
def test_a_soft_time_limit_mid_batch_hands_the_rest_back(
    seed: Seed, settings: Settings, ctx: SendContext, lanes: int
) -> None:
    previous = signal.getsignal(signal.SIGALRM)
    quick = settings.model_copy(update={"delivery_lanes": lanes, "delivery_time_box_seconds": 60.0})
    with Receiver(lambda _r, _n: Response(200, "ok", delay_seconds=1.0)) as receiver:
        destination = seed.destination(receiver.url_for("/hook"))
        ids = pending(seed, destination, 4 * lanes + 2)
        try:
            _soft_time_limit_in(2.5)  # in the middle of the third wave
            with pytest.raises(SoftTimeLimitExceeded):
                deliver_batch(
                    seed.engine,
                    ctx,
                    quick,
                    destination,
                    ids,
                    interrupted_by=(SoftTimeLimitExceeded,),
                )
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    found = states(seed, ids)
    assert ("delivering", 1) not in found
    assert found[: 2 * lanes] == [("succeeded", 1)] * (2 * lanes)
    assert found[2 * lanes : 3 * lanes] == [("pending", 1)] * lanes
    assert found[3 * lanes :] == [("pending", 0)] * (lanes + 2)
    interrupted = rows(
        seed.engine, "SELECT delivery_id, error FROM delivery_attempts WHERE outcome = 'retry'"
    )
    assert sorted(r.delivery_id for r in interrupted) == ids[2 * lanes : 3 * lanes]
    assert {r.error for r in interrupted} == {INTERRUPTED}


def test_the_task_has_time_limits_past_its_longest_legitimate_run() -> None:
    from eventrouter.workers.app import app, time_limits

    soft, hard = time_limits(Settings(delivery_time_box_seconds=10, request_timeout_seconds=5))
    assert soft == 10 + 300 + 60 and hard == soft + 60
    assert (app.conf.task_soft_time_limit, app.conf.task_time_limit) == time_limits(Settings())


@pytest.mark.parametrize(("stored", "due_at_least"), [("1e-07s", 0.5), ("0s,0s", None)])
def test_a_schedule_stored_before_the_bounds_still_schedules_retries(
    seed: Seed, settings: Settings, ctx: SendContext, stored: str, due_at_least: float | None
) -> None:
    """Before: '1e-07s' (written by the old format_duration) raised at every send, so the
    delivery stayed 'delivering' and came back each lease, forever. Now an unreadable one
    falls back to the default schedule (1s here) and a 0 s delay is raised to 100 ms."""
    with Receiver(lambda _r, _n: Response(503, "busy")) as receiver:
        destination = seed.destination(receiver.url_for("/hook"), retry_schedule=stored)
        ids = pending(seed, destination, 1)
        summary = deliver_batch(seed.engine, ctx, settings, destination, ids)
    assert summary.retrying == 1
    (row,) = rows(
        seed.engine,
        "SELECT status, EXTRACT(EPOCH FROM next_attempt_at - now()) AS due FROM deliveries",
    )
    assert row.status == "pending"
    if due_at_least is not None:
        assert float(row.due) >= due_at_least
