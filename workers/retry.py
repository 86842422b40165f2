"""When to try again: the retry schedule, jitter and how far ``Retry-After`` is obeyed.

Pure values, unit-tested without services. How an answer is classified (retry, failed,
succeeded) is the destinations' business: ``eventrouter.router.destinations.classify``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from eventrouter.router.destinations.classify import MAX_RETRY_AFTER_SECONDS

MIN_RETRY_AFTER = 1.0
MAX_RETRY_AFTER = MAX_RETRY_AFTER_SECONDS


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Delays between attempts; attempt ``n`` failing waits ``delays[n-1]`` (±jitter)."""

    delays: tuple[float, ...]
    jitter: float = 0.2
    """Each delay is spread uniformly over ±this fraction so retries do not stampede."""
    max_retry_after: float = MAX_RETRY_AFTER
    """The longest ``Retry-After`` obeyed; longer requests are cut to this."""

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    def next_delay(
        self, attempt: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float | None:
        """Seconds until the attempt after ``attempt`` (1-based), or ``None`` to give up.

        A provider's ``Retry-After`` replaces the scheduled delay (clamped to
        1 s … ``max_retry_after``) but never adds attempts.
        """
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None and not math.isnan(retry_after):
            return min(max(retry_after, MIN_RETRY_AFTER), self.max_retry_after)
        base = self.delays[attempt - 1]
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, base * (1 + spread))
