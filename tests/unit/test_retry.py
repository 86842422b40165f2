"""RetryPolicy, Retry-After parsing and HTTP outcome classification (pure)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from eventrouter.router.destinations.base import OutcomeKind
from eventrouter.router.destinations.classify import (
    MAX_RETRY_AFTER_SECONDS,
    classify_http,
    parse_retry_after,
)
from eventrouter.router.durations import parse_schedule
from eventrouter.workers.retry import MAX_RETRY_AFTER, MIN_RETRY_AFTER, RetryPolicy

DEFAULT = RetryPolicy(parse_schedule("5s,5m,30m,2h,5h,10h,10h"))


# -- schedule and give-up -------------------------------------------------------------
def test_default_schedule_gives_eight_attempts() -> None:
    assert DEFAULT.max_attempts == 8


def test_no_jitter_follows_the_schedule_exactly() -> None:
    policy = RetryPolicy((5.0, 300.0, 1800.0), jitter=0.0)
    assert [policy.next_delay(n) for n in (1, 2, 3)] == [5.0, 300.0, 1800.0]


@pytest.mark.parametrize(("delays", "max_attempts"), [((), 1), ((1.0,), 2), ((1.0, 2.0), 3)])
def test_gives_up_after_one_more_attempt_than_delays(
    delays: tuple[float, ...], max_attempts: int
) -> None:
    policy = RetryPolicy(delays, jitter=0.0)
    assert policy.max_attempts == max_attempts
    for attempt in range(1, max_attempts):
        assert policy.next_delay(attempt) == delays[attempt - 1]
    assert policy.next_delay(max_attempts) is None
    assert policy.next_delay(max_attempts + 5) is None


def test_retry_after_never_adds_attempts() -> None:
    policy = RetryPolicy((1.0, 1.0))
    assert policy.next_delay(3, retry_after=10.0) is None


# -- jitter -----------------------------------------------------------------------------
def test_jitter_stays_within_twenty_percent() -> None:
    rng = random.Random(1234)
    for attempt, base in enumerate(DEFAULT.delays, start=1):
        samples = [DEFAULT.next_delay(attempt, rng=rng) for _ in range(300)]
        assert all(s is not None and base * 0.8 <= s <= base * 1.2 for s in samples)
        # ...and actually spreads: both halves of the band are used.
        assert min(s for s in samples if s is not None) < base * 0.95
        assert max(s for s in samples if s is not None) > base * 1.05


def test_jitter_is_reproducible_with_a_seeded_random() -> None:
    a = [DEFAULT.next_delay(2, rng=random.Random(7)) for _ in range(3)]
    b = [DEFAULT.next_delay(2, rng=random.Random(7)) for _ in range(3)]
    assert a == b
    assert DEFAULT.next_delay(2, rng=random.Random(8)) != a[0]


def test_custom_jitter_fraction() -> None:
    policy = RetryPolicy((100.0,), jitter=0.5)
    rng = random.Random(3)
    samples = [policy.next_delay(1, rng=rng) for _ in range(500)]
    assert all(s is not None and 50.0 <= s <= 150.0 for s in samples)
    assert min(s for s in samples if s is not None) < 60.0


def test_zero_delay_stays_zero() -> None:
    assert RetryPolicy((0.0,)).next_delay(1, rng=random.Random(1)) == 0.0


# -- Retry-After --------------------------------------------------------------------------
def test_retry_after_replaces_the_scheduled_delay_without_jitter() -> None:
    assert DEFAULT.next_delay(1, retry_after=42.0, rng=random.Random(1)) == 42.0
    assert DEFAULT.next_delay(5, retry_after=42.0) == 42.0  # shorter than the 5h slot


@pytest.mark.parametrize(
    ("retry_after", "expected"),
    [
        (0.0, MIN_RETRY_AFTER),
        (0.2, MIN_RETRY_AFTER),
        (MAX_RETRY_AFTER + 1, MAX_RETRY_AFTER),
        (1e9, MAX_RETRY_AFTER),
        (float("inf"), MAX_RETRY_AFTER),
    ],
)
def test_retry_after_is_clamped(retry_after: float, expected: float) -> None:
    assert DEFAULT.next_delay(1, retry_after=retry_after) == expected


def test_retry_after_maximum_is_configurable() -> None:
    policy = RetryPolicy((5.0,), max_retry_after=60.0)
    assert policy.next_delay(1, retry_after=600.0) == 60.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [("120", 120.0), ("0", 0.0), (" 7 ", 7.0), ("1.5", 1.5), ("-3", 0.0)],
)
def test_parse_retry_after_seconds(header: str, expected: float) -> None:
    assert parse_retry_after(header) == expected


def test_parse_retry_after_http_date() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    header = format_datetime(now + timedelta(seconds=90), usegmt=True)
    assert header.endswith("GMT")
    assert parse_retry_after(header, now=now) == pytest.approx(90.0)


def test_parse_retry_after_http_date_in_the_past_is_zero() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 0.0


def test_parse_retry_after_http_date_uses_the_clock_by_default() -> None:
    header = format_datetime(datetime.now(UTC) + timedelta(seconds=300), usegmt=True)
    value = parse_retry_after(header)
    assert value is not None and 295 <= value <= 300


@pytest.mark.parametrize("header", [None, "", "   ", "soon", "tomorrow at noon", "12s", "1,000"])
def test_parse_retry_after_garbage_is_none(header: str | None) -> None:
    assert parse_retry_after(header) is None


# -- classification -----------------------------------------------------------------------
def test_errors_name_the_status_and_its_phrase() -> None:
    assert classify_http(503, {}).error == "HTTP 503 Service Unavailable"
    assert classify_http(404, {}).error == "HTTP 404 Not Found"
    assert classify_http(599, {}).error == "HTTP 599"  # no standard phrase


@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    outcome = classify_http(status, {}, "fine")
    assert outcome.kind is OutcomeKind.SUCCEEDED
    assert outcome.http_status == status
    assert outcome.response_body == "fine"
    assert outcome.error is None


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504, 599])
def test_transient_statuses_retry(status: int) -> None:
    outcome = classify_http(status, {}, "busy")
    assert outcome.kind is OutcomeKind.RETRY
    assert outcome.http_status == status
    assert outcome.error is not None and outcome.error.startswith(f"HTTP {status}")
    assert outcome.response_body == "busy"
    assert outcome.retry_after is None
    assert not outcome.disable_destination


def test_retry_after_header_is_carried_on_the_outcome() -> None:
    assert classify_http(429, {"retry-after": "30"}).retry_after == 30.0
    assert classify_http(503, {"retry-after": "garbage"}).retry_after is None


def test_410_fails_and_disables_the_destination() -> None:
    outcome = classify_http(410, {}, "gone")
    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.disable_destination
    assert outcome.error is not None and "410" in outcome.error


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 409, 413, 422])
def test_other_4xx_fail_permanently(status: int) -> None:
    outcome = classify_http(status, {}, None)
    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.error is not None and outcome.error.startswith(f"HTTP {status}")
    assert not outcome.disable_destination


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_redirects_fail_and_name_the_location(status: int) -> None:
    outcome = classify_http(status, {"location": "https://new.example.com/hook"})
    assert outcome.kind is OutcomeKind.FAILED
    assert outcome.error is not None
    assert "https://new.example.com/hook" in outcome.error
    assert "not followed" in outcome.error


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("1e999", MAX_RETRY_AFTER_SECONDS),
        ("9" * 400, MAX_RETRY_AFTER_SECONDS),
        ("inf", MAX_RETRY_AFTER_SECONDS),
        ("86400", MAX_RETRY_AFTER_SECONDS),
        ("-5", 0.0),
        ("nan", None),
        ("Fri, 31 Dec 9999 23:59:59 GMT", MAX_RETRY_AFTER_SECONDS),
    ],
)
def test_parse_retry_after_is_bounded(header: str, expected: float | None) -> None:
    assert parse_retry_after(header) == expected


def test_a_nan_retry_after_falls_back_to_the_schedule() -> None:
    policy = RetryPolicy((5.0,), jitter=0)
    assert policy.next_delay(1, float("nan")) == 5.0
