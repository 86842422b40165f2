"""How a provider's HTTP answer becomes an ``Outcome``: the generic rule, ``Retry-After``.

Pure functions, shared by every destination kind (which refine them: Slack's ``ok`` body,
PagerDuty's 400) and unit-tested without services.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus

from eventrouter.router.destinations.base import Outcome

RETRYABLE_STATUSES = frozenset({408, 425, 429})
MAX_RETRY_AFTER_SECONDS = 3600.0
"""The longest wait a provider's ``Retry-After`` (or reset time) can ask for."""


def describe_status(status: int) -> str:
    """``HTTP 503 Service Unavailable``: the code and, when standard, its phrase."""
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        return f"HTTP {status}"


def bounded_wait(seconds: float) -> float | None:
    """``seconds`` within 0 … ``MAX_RETRY_AFTER_SECONDS``; ``None`` for NaN. A receiver's
    ``Retry-After: 1e999`` is a float infinity, which ``int()`` or a date cannot hold."""
    if math.isnan(seconds):
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_SECONDS)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds in a ``Retry-After`` header (delta-seconds or HTTP-date), else ``None``;
    never more than ``MAX_RETRY_AFTER_SECONDS``."""
    if not value:
        return None
    value = value.strip()
    try:
        return bounded_wait(float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return bounded_wait((when - (now or datetime.now(UTC))).total_seconds())


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
