"""Human durations (``5s``, ``5m``, ``2h``, ``1d``) and retry schedules made of them."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
MAX_ATTEMPTS = 50


def parse_duration(text: str) -> float:
    """Seconds in ``text``; a bare number means seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration; use a number with s, m, h or d, e.g. 30s")
    number, unit = match.groups()
    return float(number) * _UNIT_SECONDS[unit or "s"]


def parse_schedule(text: str) -> tuple[float, ...]:
    """Delays in seconds from a comma-separated list such as ``5s,5m,30m``.

    An empty schedule is allowed and means a single attempt.
    """
    parts = [part for part in text.split(",") if part.strip()]
    if len(parts) >= MAX_ATTEMPTS:
        raise ValueError(f"a retry schedule holds at most {MAX_ATTEMPTS - 1} delays")
    try:
        return tuple(parse_duration(part) for part in parts)
    except ValueError as exc:
        raise ValueError(f"bad retry schedule {text!r}: {exc}") from None


def format_duration(seconds: float) -> str:
    """The shortest exact spelling of ``seconds`` (``300`` → ``5m``)."""
    for unit in ("d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and float(seconds / size).is_integer():
            return f"{int(seconds / size)}{unit}"
    return f"{seconds:g}s"
