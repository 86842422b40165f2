"""Retention: dropping the history older than a period, a whole week at a time.

The history of every org lives in the same week partitions, so a prune acts on all orgs;
it is an operator's command (the CLI acts as an admin), not an org member's.
"""

from __future__ import annotations

import time

from eventrouter.router.control.caller import Role
from eventrouter.router.control.service import Service
from eventrouter.router.errors import ConfigError
from eventrouter.router.models.retention import KeptWeek, PruneResult
from eventrouter.router.partitions import PartitionKeeper
from eventrouter.router.retention import cutoff_time, describe, parse_retention

PRUNE_LOCK_TIMEOUT_SECONDS = 5.0
"""An operator's prune waits longer for the tables' locks than the routers' hourly one."""


class Retention(Service):
    def prune(self, older_than: str | None = None, *, dry_run: bool = False) -> PruneResult:
        """Drop the weeks that ended ``older_than`` ago or earlier (default: the
        ``EVENTROUTER_RETENTION`` setting); a week with a delivery still pending or
        delivering is kept whole until it finishes."""
        self.caller.require(Role.ADMIN, "pruning the history")
        period = older_than or self.settings.retention
        if not period.strip() or period.strip() == "0":
            raise ConfigError(
                "give --older-than (e.g. 30d) or set EVENTROUTER_RETENTION; nothing was pruned"
            )
        try:
            seconds = parse_retention(period)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        now = time.time()
        keeper = PartitionKeeper(self.engine, lock_timeout=PRUNE_LOCK_TIMEOUT_SECONDS)
        with self.database_errors():
            report = keeper.plan(seconds, now) if dry_run else keeper.prune(seconds, now)
        return PruneResult(
            older_than=describe(seconds),
            cutoff=cutoff_time(seconds, now),
            dry_run=dry_run,
            dropped=report.dropped,
            kept=[KeptWeek(week=week, open_deliveries=n) for week, n in report.kept_open.items()],
            busy=report.busy,
            freed_bytes=report.freed_bytes,
            stray_events=report.stray_events,
        )
