"""One attempt's bookkeeping, pure: what its outcome makes of the delivery (next state,
retry time), which HTTP status is stored, how long it counts for the pacer, and the
batch's tally. No I/O; ``workers.delivery`` runs the batch around it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from eventrouter.router.db.claims import ClaimedDelivery, DestinationRecord
from eventrouter.router.destinations import Outcome, OutcomeKind
from eventrouter.router.durations import parse_schedule
from eventrouter.router.settings import Settings
from eventrouter.workers.retry import RetryPolicy

log = logging.getLogger("eventrouter.worker")


@dataclass(frozen=True, slots=True)
class AttemptResult:
    delivery: ClaimedDelivery
    outcome: Outcome
    started_at: datetime
    duration_ms: int


@dataclass
class BatchSummary:
    claimed: int = 0
    succeeded: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    released: int = 0
    """Claimed but not sent (time box or shutdown): back to ``pending``."""
    deferred: int = 0
    """Not attempted now: held back by the rate limiter, or the destination is slow and
    its worker slots were taken. Due again later; no attempt used."""
    stale: int = 0
    """Sent, but the lease had expired and the row was taken back before recording."""

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)

    def describe(self) -> str:
        """The batch's outcome for the worker log: ``3 claimed: 2 succeeded, 1 retrying``."""
        done = [
            f"{count} {what}"
            for what, count in self.__dict__.items()
            if count and what != "claimed"
        ]
        text = ", ".join(done) or "nothing to send"
        return f"{self.claimed} claimed: {text}" if self.claimed else text


def next_state(
    result: AttemptResult, policy: RetryPolicy, now: datetime
) -> tuple[str, datetime | None, str | None]:
    """``(status, next_attempt_at, last_error)`` for a delivery after one attempt."""
    outcome = result.outcome
    if outcome.kind is OutcomeKind.SUCCEEDED:
        return "succeeded", None, None
    if outcome.kind is OutcomeKind.FAILED:
        return "failed", None, outcome.error
    delay = policy.next_delay(result.delivery.attempt, outcome.retry_after)
    if delay is None:
        return "failed", None, f"gave up after {result.delivery.attempt} attempts: {outcome.error}"
    return "pending", now + timedelta(seconds=delay), outcome.error


def policy_for(destination: DestinationRecord, settings: Settings) -> RetryPolicy:
    if destination.retry_schedule is not None:
        try:
            # Clamped, not refused: a schedule stored before the bounds must not stop sends.
            return RetryPolicy(parse_schedule(destination.retry_schedule, clamp=True))
        except ValueError as exc:
            log.warning("destination %s: %s; using the default schedule", destination.name, exc)
    return RetryPolicy(settings.retry_delays)


def recordable_status(status: int | None) -> int | None:
    """An HTTP status as stored: only 100-599 (the transport refuses others, and a stray one
    must never make the whole batch's ``int[]`` statement fail)."""
    return status if status is not None and 100 <= status <= 599 else None


def paced_seconds(result: AttemptResult, threshold: float) -> float:
    """How long an attempt counts for the slow-destination pacer: its duration, and at least
    the threshold when it ran into its timeout (a timeout always means slow)."""
    seconds = result.duration_ms / 1000
    return max(seconds, threshold) if result.outcome.timed_out else seconds
