"""Retention: what ``db prune`` dropped (or would drop) and what it kept."""

from __future__ import annotations

from datetime import date, datetime

from eventrouter.router.models.base import Model


class KeptWeek(Model):
    """A week retention left whole: some of its deliveries are still pending or delivering."""

    week: date
    """Its Monday."""
    open_deliveries: int


class PruneResult(Model):
    """What ``db prune`` dropped (or, with ``dry_run``, would drop) and what it kept."""

    older_than: str
    cutoff: datetime
    dry_run: bool
    dropped: list[date]
    """Weeks (their Mondays) whose events, deliveries and attempts were dropped."""
    kept: list[KeptWeek]
    busy: list[date]
    """Weeks whose tables were too busy to take the lock in time; the next prune retries."""
    freed_bytes: int
    stray_events: int
    """Events deleted from the default partitions (ids outside every week partition)."""
