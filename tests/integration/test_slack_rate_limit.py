"""The shared Slack rate limiter on real Redis, and deliveries it defers on real Postgres."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import httpx
import pytest
import redis

from eventrouter.router.destinations import SendContext
from eventrouter.router.destinations.ratelimit import RedisRateLimiter
from eventrouter.router.settings import Settings
from eventrouter.workers.delivery import deliver_batch
from tests.helpers import Seed, rows
from tests.receiver import Receiver, always, ok


@pytest.fixture
def limiter_for(redis_conn: redis.Redis, key_token: str):
    def make(max_wait: float = 0.0) -> RedisRateLimiter:
        return RedisRateLimiter(redis_conn, prefix=f"ertest:{key_token}:rl:", max_wait=max_wait)

    return make


def test_burst_then_one_per_interval_shared_by_every_limiter(limiter_for) -> None:
    first, second = limiter_for(), limiter_for()  # two workers
    permits = [
        limiter.acquire("slack:x", rate=10, burst=2) for limiter in (first, second, first, second)
    ]
    assert [p.granted for p in permits] == [True, True, False, False]
    assert permits[0].wait == permits[1].wait == 0
    # refusals come back spaced one interval (100 ms) apart, in order
    assert 0.05 <= permits[2].wait <= 0.1
    assert permits[3].wait - permits[2].wait == pytest.approx(0.1, abs=0.01)


def test_granted_slots_within_max_wait_are_reserved_in_order(limiter_for) -> None:
    limiter = limiter_for(max_wait=1.0)
    waits = [limiter.acquire("slack:y", rate=10, burst=1).wait for _ in range(5)]
    assert waits[0] == 0
    assert all(0.08 <= b - a <= 0.11 for a, b in itertools.pairwise(waits))
    assert limiter.acquire("slack:other", rate=10, burst=1).wait == 0  # keys are independent


def test_hold_stops_grants_for_the_given_time(limiter_for) -> None:
    limiter = limiter_for()
    assert limiter.acquire("slack:z", rate=1, burst=3).granted
    limiter.hold("slack:z", 5.0)
    refused = limiter.acquire("slack:z", rate=1, burst=3)
    assert not refused.granted and 4.5 <= refused.wait <= 5.0


def test_unreachable_redis_lets_requests_through() -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=None)
    permit = RedisRateLimiter(dead).acquire("slack:q", rate=1, burst=1)
    assert permit.granted and permit.wait == 0


@pytest.fixture
def slack_hook() -> Iterator[Receiver]:
    with Receiver(always(200, "ok")) as rx:
        yield rx


def test_a_storm_is_spread_and_deferred_deliveries_use_no_attempt(
    seed: Seed, settings: Settings, limiter_for, slack_hook: Receiver
) -> None:
    destination = seed.destination(
        kind="slack",
        config={"webhook_url": slack_hook.url_for("/services/T/B/x"), "rate_limit": 2, "burst": 2},
    )
    ids = [seed.delivery(seed.event(payload={"i": i}), destination) for i in range(5)]
    with httpx.Client() as http:
        ctx = SendContext(http=http, default_timeout=2, rate_limiter=limiter_for(max_wait=0.0))
        summary = deliver_batch(seed.engine, ctx, settings, destination, ids)
    assert (summary.succeeded, summary.deferred) == (2, 3)
    assert slack_hook.count() == 2
    deferred = rows(
        seed.engine,
        "SELECT id, status, attempt_count, last_error, "
        "EXTRACT(EPOCH FROM next_attempt_at - now()) AS due "
        "FROM deliveries WHERE status = 'pending' ORDER BY next_attempt_at",
    )
    assert len(deferred) == 3
    assert all(row.attempt_count == 0 for row in deferred)
    assert {row.last_error for row in deferred} == {"held by the Slack rate limit (2/s)"}
    dues = [float(row.due) for row in deferred]
    assert dues == sorted(dues) and dues[-1] - dues[0] >= 0.9  # spaced 0.5 s apart
    attempted = rows(seed.engine, "SELECT DISTINCT delivery_id FROM delivery_attempts")
    assert len(attempted) == 2


def test_slack_429_holds_every_worker(seed: Seed, settings: Settings, limiter_for) -> None:
    with Receiver(always(429, "rate_limited", **{"Retry-After": "30"})) as rx:
        destination = seed.destination(
            kind="slack", config={"webhook_url": rx.url_for("/services/T/B/y"), "burst": 5}
        )
        first = seed.delivery(seed.event(), destination)
        with httpx.Client() as http:
            ctx = SendContext(http=http, default_timeout=2, rate_limiter=limiter_for())
            summary = deliver_batch(seed.engine, ctx, settings, destination, [first])
            assert summary.retrying == 1
            rx.set_behaviour(ok())
            second = seed.delivery(seed.event(), destination)
            later = deliver_batch(seed.engine, ctx, settings, destination, [second])
        assert later.deferred == 1 and rx.count() == 1
