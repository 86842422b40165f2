"""Keeping the week partitions of the history: created ahead by the scheduler, on demand
before a batch needs a week that is missing, and dropped by retention.

No event is ever lost to a missing week: the default partitions take what no week holds,
and creating the week later moves those rows into it (migration 0010). Creating ahead
and on demand only keeps the history where retention can drop it cheaply.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from eventrouter.router.db import is_connection_error, partitions
from eventrouter.router.db.partitions import WeekDrop
from eventrouter.router.errors import first_line
from eventrouter.router.retention import (
    creatable,
    cutoff_time,
    date_of_day,
    day_of_time,
    expired_weeks,
    week_start,
    weeks_ahead,
)

log = logging.getLogger("eventrouter.partitions")
DDL_LOCK_TIMEOUT_SECONDS = 1.0
"""How long creating or dropping a week waits for the tables' locks before giving up (for
another try later): a DDL statement queues every query behind itself while it waits."""


@dataclass
class PruneReport:
    """What a prune did: the weeks (by their Monday) dropped, the weeks kept and why."""

    dropped: list[date] = field(default_factory=list)
    kept_open: dict[date, int] = field(default_factory=dict)
    """Weeks kept because this many of their deliveries are still pending or delivering."""
    busy: list[date] = field(default_factory=list)
    """Weeks whose locks were not free within the timeout; the next prune tries again."""
    freed_bytes: int = 0
    stray_events: int = 0
    """Events deleted from the default partitions (ids outside every week)."""

    def add(self, week: WeekDrop) -> None:
        if week.dropped:
            self.dropped.append(date_of_day(week.week))
            self.freed_bytes += week.bytes
        else:
            self.kept_open[date_of_day(week.week)] = week.open_deliveries


class PartitionKeeper:
    """Creates and drops week partitions on one database; remembers the weeks it has seen
    exist, so a batch of events costs a set lookup, not a query."""

    def __init__(self, engine: Engine, *, lock_timeout: float = DDL_LOCK_TIMEOUT_SECONDS):
        self._engine = engine
        self._lock_timeout = lock_timeout
        self._known: set[int] = set()

    def ensure_ahead(self, now: float | None = None) -> int:
        """Create the weeks holding yesterday through a week ahead where missing; return
        how many weeks were new."""
        return self._ensure(weeks_ahead(time.time() if now is None else now))

    def ensure_for(self, published_at: Iterable[float], now: float | None = None) -> int:
        """Create the weeks that events published at these times need, if missing (for
        days within the window the on-demand path covers). Failing to create one is
        logged, not raised: its events then go to the default partitions."""
        days = {day_of_time(moment) for moment in published_at}
        if not {week_start(day) for day in days} - self._known:
            return 0
        moment = time.time() if now is None else now
        wanted = [week_start(day) for day in days if creatable(day, moment)]
        try:
            return self._ensure(wanted)
        except DBAPIError as exc:
            if is_connection_error(exc) and not partitions.is_lock_timeout(exc):
                raise
            log.warning("could not create week partitions %s (%s)", wanted, first_line(exc))
            return 0

    def _ensure(self, weeks: list[int]) -> int:
        if not weeks or self._known.issuperset(weeks):
            return 0
        with self._engine.begin() as conn:
            partitions.set_lock_timeout(conn, self._lock_timeout)
            created = partitions.ensure_weeks(conn, weeks)
            self._known = set(partitions.existing_weeks(conn))
        if created:
            log.info("created the partitions of %d week(s) of the history", created)
        return created

    def prune(self, older_than: float, now: float | None = None) -> PruneReport:
        """Drop every week that ended ``older_than`` seconds ago or earlier, one transaction
        per week; a week with a delivery still pending or delivering is kept whole."""
        moment = time.time() if now is None else now
        report = PruneReport()
        for week in self._expired(older_than, moment):
            try:
                with self._engine.begin() as conn:
                    partitions.set_lock_timeout(conn, self._lock_timeout)
                    outcome = partitions.drop_week(conn, week)
            except DBAPIError as exc:
                if not partitions.is_lock_timeout(exc):
                    raise
                report.busy.append(date_of_day(week))
                continue
            if outcome is not None:
                self._known.discard(week)
                report.add(outcome)
        with self._engine.begin() as conn:
            report.stray_events = partitions.trim_defaults(conn, cutoff_time(older_than, moment))
        return report

    def plan(self, older_than: float, now: float | None = None) -> PruneReport:
        """What ``prune`` would do now, changing nothing: ``dropped`` lists the weeks it
        would drop."""
        moment = time.time() if now is None else now
        report = PruneReport()
        with self._engine.connect() as conn:
            for week in self._expired(older_than, moment):
                found = partitions.inspect_week(conn, week)
                if found is not None:
                    report.add(found._replace(dropped=not found.open_deliveries))
        return report

    def _expired(self, older_than: float, now: float) -> list[int]:
        with self._engine.connect() as conn:
            return expired_weeks(partitions.existing_weeks(conn), older_than, now)
