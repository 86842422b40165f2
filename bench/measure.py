"""Small measuring helpers: waiting on a condition, percentiles, medians, RSS."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import Engine, text


class BenchTimeout(RuntimeError):
    """A case did not finish in time; the message says what was still missing."""


def wait_until(
    done: Callable[[], bool],
    *,
    timeout: float,
    what: str,
    interval: float = 0.02,
    check: Callable[[], None] | None = None,
) -> float:
    """Poll ``done`` until true; return the ``perf_counter`` at which it was seen true."""
    deadline = time.perf_counter() + timeout
    while True:
        if done():
            return time.perf_counter()
        if check is not None:
            check()
        if time.perf_counter() > deadline:
            raise BenchTimeout(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def scalar(engine: Engine, statement: str, **params: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(statement), params).scalar() or 0)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (0..1) by linear interpolation; ``nan`` when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rss_bytes(pid: int) -> int:
    """Resident set size of one process, from /proc (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Celery's pool children included)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by one process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    import os

    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks
