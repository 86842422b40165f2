"""Weeks of the history: which day and week an event belongs to, how partitions are named,
and which weeks a retention period lets go. Pure: no I/O.

A day is a UTC day, counted from 1970-01-01; an event's day is that of its publish time,
which travels in its stream entry, so every process (and a replay of the entry) agrees
on it. A week
runs Monday to Sunday and is named by its Monday (``week_start``); each week is one
partition of each history table (migration 0010).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from eventrouter.router.durations import format_duration, parse_duration

SECONDS_PER_DAY = 86_400
MIN_RETENTION_SECONDS = SECONDS_PER_DAY
"""Shorter would be meaningless: history is dropped a whole week at a time."""
PARTITIONS_AHEAD_DAYS = 7
"""Days created in advance (the weeks holding them), so a new week never waits on DDL."""
PARTITIONS_BEHIND_DAYS = 2
"""Days in the past the on-demand path still creates for late events (a producer whose
clock is behind, an outbox drained late); older ones go to the default partitions."""
DELIVERY_ID_DAY_SHIFT = 40
"""A delivery id is its day shifted left this many bits plus a sequence (migration 0010)."""
_EPOCH = date(1970, 1, 1)
_FIRST_DAY = (date.min - _EPOCH).days
_LAST_DAY = (date.max - _EPOCH).days


def parse_retention(text: str) -> float:
    """Seconds in a retention period such as ``30d``; at least one day."""
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise ValueError(f"bad retention {text!r}: {exc}") from None
    if seconds < MIN_RETENTION_SECONDS:
        raise ValueError(
            f"bad retention {text!r}: history is dropped a week at a time; give at least 1d"
        )
    return seconds


def day_of_time(seconds: float) -> int:
    return int(seconds // SECONDS_PER_DAY)


def week_start(day: int) -> int:
    """The Monday of the week holding ``day`` (day 0, 1970-01-01, was a Thursday)."""
    return day - (day + 3) % 7


def delivery_ids_of_week(published_at: float) -> tuple[int, int]:
    """The delivery ids of the week of an event published at ``published_at``: a
    delivery id is its event's day shifted left 40 bits plus a sequence (migration 0010)."""
    first = week_start(day_of_time(published_at))
    return first << 40, (first + 7) << 40


def week_of_event_id(event_id: str) -> int | None:
    """The week (its Monday) an event was most likely published in, read from its id: a
    UUIDv7's first 48 bits are the Unix time in ms it was made at, which ``publish()`` also
    takes as the publish time. ``None`` for an id of another version or not a UUID. Only a
    hint: a producer may state another publish time, so a lookup by it needs a fallback."""
    digits = event_id.replace("-", "")
    if len(digits) != 32 or digits[12] != "7":
        return None
    try:
        millis = int(digits[:12], 16)
    except ValueError:
        return None
    return _week_of_day(day_of_time(millis / 1000))


def week_of_delivery_id(delivery_id: int) -> int | None:
    """The week (its Monday) whose partition holds a delivery: its id is a day shifted left
    40 bits plus a sequence; the day is its event's publish day, or a digest's release day.
    ``None`` for an id no delivery can have (a hand-made one)."""
    return _week_of_day(delivery_id >> DELIVERY_ID_DAY_SHIFT)


def _week_of_day(day: int) -> int | None:
    """The week holding ``day``, or ``None`` past the years a date can hold (1 to 9999):
    such a day comes only from a hand-made id, and names no partition."""
    week = week_start(day)
    return week if week >= _FIRST_DAY and week + 7 <= _LAST_DAY else None


def week_bounds(week: int) -> tuple[datetime, datetime]:
    """The first instant of the week starting on day ``week`` and of the next week."""
    first = datetime.fromtimestamp(week * SECONDS_PER_DAY, UTC)
    return first, first + timedelta(days=7)


def date_of_day(day: int) -> date:
    return _EPOCH + timedelta(days=day)


def suffix_of_day(day: int) -> str:
    """The suffix of the partitions of the week starting on ``day``: ``p20261130``."""
    return "p" + date_of_day(day).strftime("%Y%m%d")


def day_of_suffix(suffix: str) -> int:
    return (datetime.strptime(suffix, "p%Y%m%d").date() - _EPOCH).days


def weeks_ahead(now: float) -> list[int]:
    """The weeks holding yesterday through ``PARTITIONS_AHEAD_DAYS`` from today."""
    today = day_of_time(now)
    return sorted({week_start(day) for day in range(today - 1, today + PARTITIONS_AHEAD_DAYS + 1)})


def creatable(day: int, now: float) -> bool:
    """Whether the on-demand path creates the week of ``day`` for an event that needs it;
    days far off (a producer's clock far off) stay in the default partitions."""
    today = day_of_time(now)
    return today - PARTITIONS_BEHIND_DAYS <= day <= today + PARTITIONS_AHEAD_DAYS


def expired_weeks(weeks: Iterable[int], older_than: float, now: float) -> list[int]:
    """Weeks (by their Monday) that ended at least ``older_than`` seconds before ``now``,
    oldest first."""
    cutoff = now - older_than
    return sorted(week for week in weeks if (week + 7) * SECONDS_PER_DAY <= cutoff)


def cutoff_time(older_than: float, now: float) -> datetime:
    return datetime.fromtimestamp(now - older_than, UTC)


def describe(seconds: float) -> str:
    return format_duration(seconds)
