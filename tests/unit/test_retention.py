"""The pure day and week arithmetic behind the history's partitions and retention."""

from __future__ import annotations

import time
from datetime import date

import pytest

from eventrouter.router.retention import (
    SECONDS_PER_DAY,
    creatable,
    date_of_day,
    day_of_suffix,
    day_of_time,
    delivery_ids_of_week,
    expired_weeks,
    parse_retention,
    suffix_of_day,
    week_of_delivery_id,
    week_of_event_id,
    week_start,
    weeks_ahead,
)


def test_weeks_start_on_monday() -> None:
    for offset in range(-10, 30):
        day = day_of_time(time.time()) + offset
        first = week_start(day)
        assert date_of_day(first).isoweekday() == 1 and 0 <= day - first < 7
    assert date_of_day(week_start(0)) == date(1969, 12, 29)


def test_partition_suffixes_read_back() -> None:
    day = week_start(day_of_time(time.time()))
    assert day_of_suffix(suffix_of_day(day)) == day
    assert suffix_of_day(week_start(0)) == "p19691229"


def test_a_week_expires_once_it_ended_longer_ago_than_the_retention() -> None:
    monday = week_start(20_000)
    ended = (monday + 7) * SECONDS_PER_DAY
    weeks = [monday - 7, monday, monday + 7]
    assert expired_weeks(weeks, 30 * SECONDS_PER_DAY, ended + 30 * SECONDS_PER_DAY) == [
        monday - 7,
        monday,
    ]
    assert expired_weeks(weeks, 30 * SECONDS_PER_DAY, ended + 30 * SECONDS_PER_DAY - 1) == [
        monday - 7
    ]


def test_weeks_ahead_cover_yesterday_to_a_week_ahead() -> None:
    now = time.time()
    today = day_of_time(now)
    covered = {week_start(day) for day in range(today - 1, today + 8)}
    assert weeks_ahead(now) == sorted(covered)
    assert creatable(today - 2, now) and not creatable(today - 3, now)
    assert creatable(today + 7, now) and not creatable(today + 8, now)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("12h", "give at least 1d"), ("soon", "'soon' is not a duration"), ("", "not a duration")],
)
def test_bad_retention_periods_are_refused_with_the_reason(text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="bad retention") as refused:
        parse_retention(text)
    assert fragment in str(refused.value)


def test_retention_periods_parse() -> None:
    assert parse_retention("30d") == 30 * SECONDS_PER_DAY
    assert parse_retention("36h") == 1.5 * SECONDS_PER_DAY


def test_the_delivery_ids_of_a_week_hold_every_day_of_it() -> None:
    monday = week_start(day_of_time(time.time()))
    lo, hi = delivery_ids_of_week(monday * SECONDS_PER_DAY + 3 * SECONDS_PER_DAY + 5)
    assert (lo, hi) == (monday << 40, (monday + 7) << 40)
    assert lo <= ((monday + 6) << 40) + 123 < hi


def test_an_id_no_date_can_hold_names_no_week() -> None:
    """Hand-made ids (the API takes any bigint or UUID) must not crash the week lookup."""
    assert week_of_delivery_id(2**63 - 1) is None
    assert week_of_delivery_id(-(2**63)) is None
    assert week_of_event_id("ffffffff-ffff-7fff-bfff-ffffffffffff") is None
    today = week_start(day_of_time(time.time()))
    assert week_of_delivery_id(today << 40 | 12345) == today
