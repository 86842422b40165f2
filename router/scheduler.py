"""Due retries and lost leases back onto the queue; digests and silences that are due.

The database is the schedule (``next_attempt_at``); Celery only ever carries work that
is due now, so a killed process never loses a retry. Several routers may tick at once:
``FOR UPDATE SKIP LOCKED`` hands each row to one of them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Engine

from eventrouter.router.db import destination_state, digests, schedule
from eventrouter.router.dispatch import BrokerGuard, Dispatch, guarded
from eventrouter.router.durations import format_duration
from eventrouter.router.partitions import PartitionKeeper
from eventrouter.router.settings import Settings

log = logging.getLogger("eventrouter.scheduler")
TICK_LIMIT = 5_000


class Scheduler:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        dispatcher: Dispatch | BrokerGuard,
        *,
        partitions: PartitionKeeper | None = None,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._broker = guarded(dispatcher)
        self._partitions = partitions or PartitionKeeper(engine)

    def maintain_history(self) -> None:
        """Create the partitions of the week ahead, and drop the weeks that ended more than
        ``EVENTROUTER_RETENTION`` ago (if set) whose deliveries have all finished."""
        self._partitions.ensure_ahead()
        retention = self._settings.retention_seconds
        if retention is None:
            return
        report = self._partitions.prune(retention)
        if report.dropped:
            log.info(
                "retention %s: dropped the history of %d week(s), weeks of %s to %s",
                format_duration(retention),
                len(report.dropped),
                report.dropped[0],
                report.dropped[-1],
            )
        for week, still_open in report.kept_open.items():
            log.info(
                "retention: kept the week of %s, %d of its deliveries are still pending or "
                "delivering",
                week,
                still_open,
            )
        if report.busy:
            log.info("retention: %d week(s) busy, tried again in an hour", len(report.busy))

    def disable_failing_destinations(self) -> list[int]:
        """Disable destinations that failed every attempt for ``auto_disable_after`` since
        they were last enabled.

        Their open deliveries are cancelled (``retry --failed --destination D`` brings them
        back after ``destinations enable D``) and a ``destination:disabled`` event is
        emitted by the database trigger.
        """
        window = self._settings.auto_disable_after_seconds
        if window <= 0:
            return []
        disabled: list[int] = []
        with self._engine.begin() as conn:
            failing = schedule.destinations_failing_for(
                conn, window=window, min_attempts=self._settings.auto_disable_min_attempts
            )
            for destination in failing:
                reason = (
                    f"disabled automatically: every attempt failed for "
                    f"{format_duration(window)} ({destination.attempts} attempts)"
                )
                if destination_state.disable_destination(conn, destination.id, reason):
                    destination_state.cancel_open_deliveries(conn, destination.id, reason)
                    disabled.append(destination.id)
                    log.warning("destination %d %s", destination.id, reason)
        return disabled

    def tick(self) -> int:
        """Take back lost leases, cancel deliveries whose destination was removed, dispatch
        due deliveries; return how many went out. While the broker is down nothing is
        marked dispatched."""
        with self._engine.begin() as conn:
            lost = schedule.reclaim_expired_leases(
                conn, limit=TICK_LIMIT, default_delays=len(self._settings.retry_delays)
            )
            orphans = schedule.cancel_orphaned(conn, limit=TICK_LIMIT)
        self.release_digests()
        if lost.retrying:
            log.warning(
                "%d deliveries returned to pending after their lease expired", len(lost.retrying)
            )
        if lost.failed:
            log.warning(
                "%d deliveries failed: their worker was lost on their last attempt",
                len(lost.failed),
            )
        if orphans or lost.cancelled:
            log.info("%d deliveries cancelled: destination removed", orphans + len(lost.cancelled))
        total = 0
        while self._broker.up:
            with self._engine.begin() as conn:
                due = schedule.dispatch_due(
                    conn, grace=self._settings.dispatch_grace_seconds, limit=TICK_LIMIT
                )
            if due and not self.dispatch(due):
                break
            total += len(due)
            if len(due) < TICK_LIMIT or total >= 10 * TICK_LIMIT:
                break
        return total

    def release_digests(self) -> int:
        """Release groups whose wait is over and holds whose quiet hours ended (their
        deliveries go out with this tick's dispatch); mark ended silences. Return how many
        digests were released."""
        with self._engine.begin() as conn:
            released, planned = digests.release_due(conn, limit=TICK_LIMIT)
            expired = digests.expire_silences(conn)
        if released:
            events = sum(r.events for r in released)
            log.info(
                "released %d digests (%d events) as %d deliveries", len(released), events, planned
            )
        if expired:
            log.info("silences expired: %s", ", ".join(map(str, expired)))
        return len(released)

    def dispatch(self, deliveries: Sequence[tuple[int, int]]) -> bool:
        """Send tasks for ``deliveries`` (already marked dispatched); if the broker is down,
        unmark them, for the first tick that finds it back. Return whether they went out."""
        if self._broker.dispatch(deliveries):
            return True
        with self._engine.begin() as conn:
            schedule.undispatch(conn, [delivery_id for delivery_id, _ in deliveries])
        return False
