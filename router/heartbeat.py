"""A file a live process touches: what a Kubernetes liveness probe (``eventrouter health
--check heartbeat``) looks at, without asking Postgres or Redis (an outage they wait out
must not get them restarted)."""

from __future__ import annotations

import os
import time
from pathlib import Path

BEAT_SECONDS = 5.0
"""How often the file is touched at most; probes allow many times this."""


class Heartbeat:
    """Touches ``path`` (when set) at most every ``every`` seconds."""

    def __init__(self, path: str, every: float = BEAT_SECONDS) -> None:
        self.path = Path(path) if path else None
        self.every = every
        self._next = 0.0

    def beat(self) -> None:
        if self.path is None:
            return
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self.every
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.touch()
            os.utime(self.path)
        except OSError:
            pass  # a read-only folder only costs the probe, never the routing


def age_seconds(path: str) -> float | None:
    """Seconds since the file was last touched; None if it does not exist."""
    try:
        return time.time() - os.stat(path).st_mtime
    except FileNotFoundError:
        return None
