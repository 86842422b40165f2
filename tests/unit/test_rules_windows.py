"""Quiet-hours windows: across midnight, on chosen days, across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventrouter.router.rules.windows import parse_days, parse_every, parse_window, window_end

NY = "America/New_York"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_window_across_midnight_ends_the_next_morning() -> None:
    window = parse_window("23:00-07:00", NY)
    # 23:30 EST on Tue 2026-01-06 is 04:30 UTC on the 7th; quiet until 07:00 EST = 12:00 UTC.
    assert window_end(window, utc(2026, 1, 7, 4, 30)) == utc(2026, 1, 7, 12, 0)
    assert window_end(window, utc(2026, 1, 7, 12, 0)) is None  # the end is not inside
    assert window_end(window, utc(2026, 1, 7, 3, 59)) is None  # 22:59 local


def test_the_night_the_clocks_spring_forward_is_an_hour_shorter() -> None:
    window = parse_window("23:00-07:00", NY)
    # Sat 2026-03-07 23:30 EST (04:30 UTC); 07:00 on the 8th is already EDT (11:00 UTC).
    assert window_end(window, utc(2026, 3, 8, 4, 30)) == utc(2026, 3, 8, 11, 0)


def test_the_night_the_clocks_fall_back_is_an_hour_longer() -> None:
    window = parse_window("23:00-07:00", NY)
    # Sat 2026-10-31 23:30 EDT (03:30 UTC); 07:00 on Nov 1 is EST (12:00 UTC).
    assert window_end(window, utc(2026, 11, 1, 3, 30)) == utc(2026, 11, 1, 12, 0)


def test_a_start_inside_the_skipped_hour_moves_forward_by_the_jump() -> None:
    window = parse_window("02:30-04:00", NY)
    # 2026-03-08 02:30 does not exist in New York: it is read as 03:30 EDT (07:30 UTC),
    # as Go's time.Date (Alertmanager) does.
    assert window_end(window, utc(2026, 3, 8, 7, 0)) is None
    assert window_end(window, utc(2026, 3, 8, 7, 30)) == utc(2026, 3, 8, 8, 0)


def test_days_pick_the_day_a_window_starts_on() -> None:
    window = parse_window("23:00-07:00", NY, "sat,sun")
    friday_night = utc(2026, 1, 10, 4, 30)  # Fri 23:30 local
    saturday_night = utc(2026, 1, 11, 4, 30)  # Sat 23:30 local
    sunday_morning = utc(2026, 1, 11, 11, 0)  # Sun 06:00 local, from Saturday's window
    assert window_end(window, friday_night) is None
    assert window_end(window, saturday_night) == utc(2026, 1, 11, 12, 0)
    assert window_end(window, sunday_morning) == utc(2026, 1, 11, 12, 0)


def test_whole_days_that_follow_each_other_end_once() -> None:
    weekend = parse_every("sat,sun 00:00-24:00", "Europe/Berlin")
    saturday_noon = utc(2026, 12, 5, 12, 0)
    assert window_end(weekend, saturday_noon) == utc(2026, 12, 6, 23, 0)  # Mon 00:00 CET


def test_day_ranges_and_spelling_errors() -> None:
    assert parse_days("mon-fri") == frozenset(range(5))
    assert parse_days("fri-mon") == frozenset({4, 5, 6, 0})
    with pytest.raises(ValueError, match="bad day 'funday'"):
        parse_days("funday")


@pytest.mark.parametrize(
    ("hours", "zone", "message"),
    [
        ("23:00", NY, "write HH:MM-HH:MM"),
        ("25:00-07:00", NY, "from 00:00 to 24:00"),
        ("07:00-07:00", NY, "start and end are equal"),
        ("23:00-07:00", "America/Springfield", "unknown time zone"),
        ("23:00-07:00", "../etc/passwd", "unknown time zone"),
    ],
)
def test_bad_windows_are_refused_with_the_reason(hours: str, zone: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_window(hours, zone)


@given(
    start=st.integers(0, 23 * 60 + 59),
    length=st.integers(1, 24 * 60 - 1),
    instant=st.datetimes(
        min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)
    ),
    zone=st.sampled_from([NY, "Europe/Berlin", "Australia/Lord_Howe", "UTC", "Asia/Kolkata"]),
)
def test_an_end_is_later_and_outside_the_window(
    start: int, length: int, instant: datetime, zone: str
) -> None:
    end_minute = (start + length) % (24 * 60)
    hours = f"{start // 60:02d}:{start % 60:02d}-{end_minute // 60:02d}:{end_minute % 60:02d}"
    window = parse_window(hours, zone)
    end = window_end(window, instant)
    if end is not None:
        assert instant < end <= instant + timedelta(hours=26)
        assert window_end(window, end) is None or window_end(window, end) == end
