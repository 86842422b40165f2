"""Human durations and retry schedules (pure)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventrouter.router.durations import (
    MAX_ATTEMPTS,
    MAX_DELAY_SECONDS,
    MIN_DELAY_SECONDS,
    format_duration,
    parse_duration,
    parse_schedule,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("5", 5.0),
        ("5s", 5.0),
        ("0s", 0.0),
        ("250ms", 0.25),
        ("1.5s", 1.5),
        ("5m", 300.0),
        ("1.5m", 90.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        (" 30s ", 30.0),
        ("10 m", 600.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "s", "-5s", "5x", "5 sec", "1e3", "five", "5s5m", "5S"])
def test_parse_duration_refuses_nonsense_with_an_example(text: str) -> None:
    with pytest.raises(ValueError, match=r"not a duration.*e\.g\. 30s"):
        parse_duration(text)


def test_parse_schedule() -> None:
    assert parse_schedule("5s,5m,30m,2h,5h,10h,10h") == (5, 300, 1800, 7200, 18000, 36000, 36000)
    assert parse_schedule("1s, 2s ,3") == (1.0, 2.0, 3.0)


@pytest.mark.parametrize("text", ["", " ", ",", " , "])
def test_empty_schedule_means_a_single_attempt(text: str) -> None:
    assert parse_schedule(text) == ()


def test_bad_schedule_names_the_schedule_and_the_part() -> None:
    with pytest.raises(ValueError, match=r"bad retry schedule '5s,soon'.*'soon'"):
        parse_schedule("5s,soon")


def test_schedule_length_limit() -> None:
    assert len(parse_schedule(",".join(["1s"] * (MAX_ATTEMPTS - 1)))) == MAX_ATTEMPTS - 1
    with pytest.raises(ValueError, match=f"at most {MAX_ATTEMPTS - 1} delays"):
        parse_schedule(",".join(["1s"] * MAX_ATTEMPTS))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (1, "1s"),
        (59, "59s"),
        (60, "1m"),
        (90, "90s"),
        (300, "5m"),
        (3600, "1h"),
        (5400, "90m"),
        (86400, "1d"),
        (90000, "25h"),
        (0.5, "0.5s"),
        (2.5, "2.5s"),
    ],
)
def test_format_duration_picks_the_shortest_exact_unit(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=0, max_value=10 * 86400))
def test_format_then_parse_round_trips_whole_seconds(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def test_settings_refuse_a_bad_schedule() -> None:
    from pydantic import ValidationError

    from eventrouter.router.settings import Settings

    with pytest.raises(ValidationError, match="bad retry schedule"):
        Settings(retry_schedule="5s,later")
    assert Settings(retry_schedule="1s,2m").retry_delays == (1.0, 120.0)


@pytest.mark.parametrize("text", ["0s", "50ms", "99ms", "8d", "1s,0s", "1000000000h", "9" * 400])
def test_schedule_delays_are_bounded(text: str) -> None:
    """A delay of 0 or 1e400 s looped: too short to help, or too long for a date."""
    with pytest.raises(ValueError, match="bad retry schedule"):
        parse_schedule(text)


def test_schedule_bounds_are_inclusive() -> None:
    assert parse_schedule("100ms,7d") == (MIN_DELAY_SECONDS, MAX_DELAY_SECONDS)
    assert parse_schedule("0s,50ms,30d", clamp=True) == (
        MIN_DELAY_SECONDS,
        MIN_DELAY_SECONDS,
        MAX_DELAY_SECONDS,
    )


@pytest.mark.parametrize("seconds", [1e-07, 1e-300, 5e-324, 1e20, 1e300, 0.1 + 0.2])
def test_format_duration_never_writes_an_exponent(seconds: float) -> None:
    text = format_duration(seconds)
    assert "e" not in text.lower() and parse_duration(text) == seconds


@pytest.mark.parametrize("seconds", [-1.0, float("inf"), float("nan")])
def test_format_duration_refuses_what_is_not_a_duration(seconds: float) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        format_duration(seconds)


@given(st.floats(min_value=0, allow_nan=False, allow_infinity=False))
def test_format_then_parse_round_trips_any_duration(seconds: float) -> None:
    """What is stored is what is read back, for every float (the old ``{:g}`` wrote
    ``1e-07s``, which parse_duration refuses at send time)."""
    assert parse_duration(format_duration(seconds)) == seconds


@given(
    st.lists(
        st.floats(min_value=MIN_DELAY_SECONDS, max_value=MAX_DELAY_SECONDS),
        max_size=MAX_ATTEMPTS - 1,
    )
)
def test_a_stored_schedule_parses_back_to_the_same_delays(delays: list[float]) -> None:
    stored = ",".join(format_duration(d) for d in delays)
    assert parse_schedule(stored) == tuple(delays)
