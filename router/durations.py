"""Human durations (``5s``, ``5m``, ``2h``, ``1d``) and retry schedules made of them.

A retry schedule is stored as text and parsed again at every send, so two rules keep it
from looping: every delay is bounded (``MIN_DELAY_SECONDS`` … ``MAX_DELAY_SECONDS``) when
a schedule is accepted, and ``format_duration`` writes only spellings ``parse_duration``
reads back to the same value (plain decimals, never ``1e-07s``).
"""

from __future__ import annotations

import math
import re
from decimal import Decimal

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
MAX_ATTEMPTS = 50
MIN_DELAY_SECONDS = 0.1
"""The shortest delay in a retry schedule: a shorter one would only hammer the receiver."""
MAX_DELAY_SECONDS = 7 * 86400.0
"""The longest delay in a retry schedule (7 days), far inside what a date can hold."""


def parse_duration(text: str) -> float:
    """Seconds in ``text``; a bare number means seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(
            f"{text!r} is not a duration; use a number with ms, s, m, h or d, e.g. 30s "
            "(a bare number means seconds)"
        )
    number, unit = match.groups()
    seconds = float(number) * _UNIT_SECONDS[unit or "s"]
    if not math.isfinite(seconds):
        raise ValueError(f"{text!r} is too long a duration; use at most 7d")
    return seconds


def parse_schedule(text: str, *, clamp: bool = False) -> tuple[float, ...]:
    """Delays in seconds from a comma-separated list such as ``5s,5m,30m``.

    An empty schedule is allowed and means a single attempt. Each delay must lie within
    100 ms … 7 days; with ``clamp`` (a schedule stored before that rule) one outside is
    moved to the nearest bound instead of refused, so it can never stop deliveries.
    """
    parts = [part for part in text.split(",") if part.strip()]
    if len(parts) >= MAX_ATTEMPTS:
        raise ValueError(f"a retry schedule holds at most {MAX_ATTEMPTS - 1} delays")
    try:
        delays = tuple(parse_duration(part) for part in parts)
    except ValueError as exc:
        raise ValueError(f"bad retry schedule {text!r}: {exc}") from None
    if clamp:
        return tuple(min(max(d, MIN_DELAY_SECONDS), MAX_DELAY_SECONDS) for d in delays)
    for part, delay in zip(parts, delays, strict=True):
        if not MIN_DELAY_SECONDS <= delay <= MAX_DELAY_SECONDS:
            raise ValueError(
                f"bad retry schedule {text!r}: {part.strip()!r} is outside 100ms to 7d; "
                "give each delay within those bounds"
            )
    return delays


def format_duration(seconds: float) -> str:
    """The shortest exact spelling of ``seconds`` (``300`` → ``5m``), always one that
    ``parse_duration`` reads back to the same value."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{seconds!r} is not a duration (a finite number of seconds, >= 0)")
    if seconds == 0:
        return "0s"
    for unit in ("d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        count = seconds / size
        if seconds >= size and count.is_integer() and count * size == seconds:
            return f"{int(count)}{unit}"
    # Plain decimal digits of the shortest repr: 1e-07 → 0.0000001, never an exponent.
    return f"{Decimal(repr(float(seconds))):f}s"
