"""Recurring time windows in a time zone: quiet hours, recurring silences.

A window is a wall-clock range (``23:00-07:00``) on some weekdays, in an IANA zone. It
belongs to the day it starts on: ``23:00-07:00`` on ``sat,sun`` runs from Saturday
23:00 to Sunday 07:00 and from Sunday 23:00 to Monday 07:00. An end at or before the
start crosses midnight; ``00:00-24:00`` is the whole day. Wall times are turned into
instants with ``zoneinfo``, so a window is right across DST changes: a wall time inside a
skipped hour moves forward by the jump (02:30 on the spring-forward night is 03:30, as
Go's ``time.Date`` and so Alertmanager read it), a repeated hour counts once.

``window_end(window, instant)`` is the one question everybody asks ("quiet now? until
when?"): pure, so per-user quiet hours can reuse it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAYS = frozenset(range(7))
_RANGE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
_MAX_CHAIN = 8  # windows on consecutive days may join; a week of them is the most


@dataclass(frozen=True, slots=True)
class Window:
    """``start`` to ``end`` minutes after local midnight on ``days`` (0 = Monday)."""

    start: int
    end: int
    days: frozenset[int]
    zone: ZoneInfo

    def describe(self) -> str:
        days = (
            "every day" if self.days == ALL_DAYS else ",".join(DAYS[d] for d in sorted(self.days))
        )
        return f"{_hhmm(self.start)}-{_hhmm(self.end)} {days} ({self.zone.key})"


def load_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name``; ``ValueError`` for an unknown one."""
    try:
        if not name or name != name.strip() or ".." in name:
            raise ValueError
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {name!r}; use an IANA name such as America/New_York or UTC"
        ) from None


def parse_days(text: str | None) -> frozenset[int]:
    """``sat,sun`` → {5, 6}; ``mon-fri`` ranges too; empty or None means every day."""
    if not text or not text.strip():
        return ALL_DAYS
    days: set[int] = set()
    for part in text.lower().split(","):
        part = part.strip()
        first, _, last = part.partition("-")
        if first not in DAYS or (last and last not in DAYS):
            raise ValueError(f"bad day {part!r}; use {','.join(DAYS)} or a range like mon-fri")
        a, b = DAYS.index(first), DAYS.index(last or first)
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
    return frozenset(days)


def parse_window(hours: str, zone: str, days: str | None = None) -> Window:
    """A window from ``23:00-07:00``, a zone name and optional days."""
    match = _RANGE.match(hours)
    if not match:
        raise ValueError(f"bad hours {hours!r}; write HH:MM-HH:MM, e.g. 23:00-07:00")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2):
        raise ValueError(f"bad hours {hours!r}; times run from 00:00 to 24:00")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if start == end:
        raise ValueError(f"bad hours {hours!r}: start and end are equal; use 00:00-24:00")
    return Window(start, end, parse_days(days), load_zone(zone))


def parse_every(every: str, zone: str) -> Window:
    """A recurring window written ``sat,sun 00:00-24:00`` (days first, optional)."""
    days, _, hours = every.strip().rpartition(" ")
    return parse_window(hours, zone, days or None)


def window_end(window: Window, instant: datetime) -> datetime | None:
    """When the window that contains ``instant`` ends (UTC), or None if none does.

    Windows that follow on without a gap (``00:00-24:00`` on sat and sun) count as one.
    """
    end = _containing(window, instant)
    if end is None:
        return None
    for _ in range(_MAX_CHAIN):
        following = _containing(window, end)
        if following is None or following <= end:
            break
        end = following
    return end


def _containing(window: Window, instant: datetime) -> datetime | None:
    local_day = instant.astimezone(window.zone).date()
    for day in (local_day - timedelta(days=1), local_day):
        if day.weekday() not in window.days:
            continue
        start = _instant(day, window.start, window.zone)
        end_day = day + timedelta(days=1) if window.end <= window.start else day
        end = _instant(end_day, window.end, window.zone)
        if start <= instant < end:
            return end
    return None


def _instant(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock time; 24:00 is the next midnight. A wall time that
    does not exist (spring forward) is read with the offset before the jump, which moves
    it forward by the jump; one that exists twice (fall back) is its first occurrence."""
    if minutes == 24 * 60:
        day, minutes = day + timedelta(days=1), 0
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
    return local.astimezone(UTC)


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
