"""A provider's absurd ``Retry-After`` on real Redis and Postgres: clamped, never fatal."""

from __future__ import annotations

import httpx
import pytest
import redis

from eventrouter.router.destinations import SendContext
from eventrouter.router.destinations.classify import MAX_RETRY_AFTER_SECONDS
from eventrouter.router.destinations.ratelimit import RedisRateLimiter
from eventrouter.router.settings import Settings
from eventrouter.workers.delivery import deliver_batch
from tests.helpers import Seed, rows
from tests.receiver import Receiver, always


@pytest.mark.parametrize("retry_after", ["1e999", "9" * 400, "nan", "-inf"])
def test_slack_429_with_an_absurd_retry_after_is_a_retry(
    seed: Seed, settings: Settings, redis_conn: redis.Redis, key_token: str, retry_after: str
) -> None:
    """Before: 1e999 became float('inf'); holding the limiter for it raised OverflowError,
    which failed the delivery permanently as 'could not build the request'."""
    limiter = RedisRateLimiter(redis_conn, prefix=f"ertest:{key_token}:rl:", max_wait=0.0)
    with Receiver(always(429, "rate_limited", **{"Retry-After": retry_after})) as rx:
        destination = seed.destination(
            kind="slack", config={"webhook_url": rx.url_for("/services/T/B/z")}
        )
        delivery = seed.delivery(seed.event(), destination)
        with httpx.Client() as http:
            ctx = SendContext(http=http, default_timeout=2, rate_limiter=limiter)
            summary = deliver_batch(seed.engine, ctx, settings, destination, [delivery])
    assert summary.retrying == 1 and summary.failed == 0
    (row,) = rows(
        seed.engine,
        "SELECT status, last_error, EXTRACT(EPOCH FROM next_attempt_at - now()) AS due "
        "FROM deliveries",
    )
    assert row.status == "pending" and "rate_limited" in row.last_error
    assert float(row.due) <= MAX_RETRY_AFTER_SECONDS + 1
