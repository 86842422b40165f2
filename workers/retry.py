"""When to try again: the retry schedule, jitter, ``Retry-After`` and HTTP classification.

Pure functions and values, unit-tested without services.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus

from workers.destinations.base import Outcome

RETRYABLE_STATUSES = frozenset({408, 425, 429})


def describe_status(status: int) -> str:
    """``HTTP 503 Service Unavailable``: the code and, when standard, its phrase."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


MIN_RETRY_AFTER = 1.0
MAX_RETRY_AFTER = 3600.0


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Delays between attempts; attempt ``n`` failing waits ``delays[n-1]`` (±jitter)."""

    delays: tuple[float, ...]
    jitter: float = 0.2
    """Each delay is spread uniformly over ±this fraction so retries do not stampede."""
    max_retry_after: float = MAX_RETRY_AFTER
    """The longest ``Retry-After`` obeyed; longer requests are cut to this."""

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    def next_delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float | None:
        """Seconds until the attempt after ``attempt`` (1-based), or ``None`` to give up.

        A provider's ``Retry-After`` replaces the scheduled delay (clamped to
        1 s … ``max_retry_after``) but never adds attempts.
        """
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            return min(max(retry_after, MIN_RETRY_AFTER), self.max_retry_after)
        base = self.delays[attempt - 1]
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, base * (1 + spread))


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds in a ``Retry-After`` header (delta-seconds or HTTP-date), else ``None``."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def classify_http(
    status: int, headers: Mapping[str, str], body_excerpt: str | None = None
) -> Outcome:
    """The generic HTTP rule: 2xx delivered; 408/425/429/5xx retry; 410 gone; other 4xx fail."""
    if 200 <= status < 300:
        return Outcome.succeeded(status, body_excerpt)
    if status in RETRYABLE_STATUSES or status >= 500:
        return Outcome.retry(
            describe_status(status),
            http_status=status,
            response_body=body_excerpt,
            retry_after=parse_retry_after(headers.get("retry-after")),
        )
    if status == 410:
        return Outcome.failed(
            "HTTP 410 Gone: the endpoint says it no longer exists; destination disabled",
            http_status=status,
            response_body=body_excerpt,
            disable_destination=True,
        )
    if 300 <= status < 400:
        location = headers.get("location", "?")
        return Outcome.failed(
            f"HTTP {status} redirect to {location} not followed; point the destination there",
            http_status=status,
            response_body=body_excerpt,
        )
    return Outcome.failed(describe_status(status), http_status=status, response_body=body_excerpt)
