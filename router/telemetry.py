"""Counters shared by every router and worker process, kept in one Redis hash.

Routers and workers run as many processes on as many hosts as you like, and come and go, so
their counts cannot live in process memory for a scrape to find. Each adds its batch's counts
to the hash ``{stream}:metrics`` (one pipelined round trip per batch, never per event) and any
API process reports the sums at ``/metrics``. Counting is best effort: Redis being down
never delays or fails a batch, it only leaves the counters behind.

Fields (``|`` separates the labels):

    events|stored · events|duplicate · events|rejected · deliveries|planned
    deliveries|<final status>|<kind>         succeeded or failed, by destination kind
    attempts|<outcome>|<kind>                succeeded, retry or failed
    attempt_seconds|<kind>|<le>              a histogram bucket (not cumulative here)
    attempt_seconds_sum|<kind> · attempt_seconds_count|<kind>
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Iterable, Mapping

import redis

from eventrouter.router.redis_conn import redis_client
from eventrouter.router.settings import Settings

log = logging.getLogger("eventrouter.telemetry")

DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Upper bounds (seconds) of the attempt-duration histogram; ``+Inf`` is implied."""
FINAL = ("succeeded", "failed")
PAUSE_SECONDS = 5.0
"""After a failed write, counting pauses this long: an unreachable Redis must not add a
connection timeout to every batch of a worker whose broker is elsewhere."""
_paused_until = 0.0


def counters_key(settings: Settings) -> str:
    return f"{settings.stream}:metrics"


def bucket_of(seconds: float) -> str:
    """The label of the smallest bucket that holds ``seconds``."""
    for bound in DURATION_BUCKETS:
        if seconds <= bound:
            return repr(bound)
    return "+Inf"


def batch_counts(
    *, stored: int, duplicates: int, rejected: int, deliveries: int
) -> dict[str, float]:
    """What a router adds for one stored batch."""
    counts = {
        "events|stored": stored,
        "events|duplicate": duplicates,
        "events|rejected": rejected,
        "deliveries|planned": deliveries,
    }
    return {field: value for field, value in counts.items() if value}


def attempt_counts(kind: str, attempts: Iterable[tuple[str, str, int]]) -> dict[str, float]:
    """What a worker adds for recorded attempts, each ``(outcome, new status, duration ms)``.

    Labels are made once per distinct attempt, not per attempt: a batch's attempts mostly
    share their outcome, status and millisecond count, and a worker counts every one."""
    counts: Counter[str] = Counter()
    seconds_sum = 0.0
    for (outcome, status, duration_ms), times in Counter(attempts).items():
        seconds = duration_ms / 1000
        counts[f"attempts|{outcome}|{kind}"] += times
        counts[f"attempt_seconds|{kind}|{bucket_of(seconds)}"] += times
        counts[f"attempt_seconds_count|{kind}"] += times
        seconds_sum += seconds * times
        if status in FINAL:
            counts[f"deliveries|{status}|{kind}"] += times
    result: dict[str, float] = dict(counts)
    if counts:
        result[f"attempt_seconds_sum|{kind}"] = seconds_sum
    return result


def add(settings: Settings, counts: Mapping[str, float]) -> None:
    """Add ``counts`` to the shared hash in one round trip; a Redis error is only logged."""
    global _paused_until
    if not counts or time.monotonic() < _paused_until:
        return
    try:
        pipe = redis_client(settings.redis_url, retries=0).pipeline(transaction=False)
        key = counters_key(settings)
        for field, value in counts.items():
            if float(value).is_integer():
                pipe.hincrby(key, field, int(value))
            else:
                pipe.hincrbyfloat(key, field, value)
        pipe.execute()
    except redis.RedisError as exc:
        _paused_until = time.monotonic() + PAUSE_SECONDS
        log.debug("counters not updated (Redis: %s)", exc)


def read(settings: Settings) -> dict[str, float]:
    """Every counter, summed over all processes since the hash was created."""
    raw = redis_client(settings.redis_url).hgetall(counters_key(settings))
    values = {}
    for field, value in raw.items():
        number = float(value)
        if math.isfinite(number):
            values[field.decode() if isinstance(field, bytes) else str(field)] = number
    return values
