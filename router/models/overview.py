"""The overview: the last hour's attempts, the backlog and each destination's health."""

from __future__ import annotations

from datetime import datetime

from eventrouter.router.models.base import Model


class MinuteCount(Model):
    """Attempts that ended in one minute: accepted by the destination, or not."""

    minute: datetime
    succeeded: int
    failed: int


class Backlog(Model):
    """What waits, and where: unrouted events, queued tasks, deliveries due or leased."""

    stream: int | None
    """Events in the Redis stream not yet routed (all orgs); ``None``: Redis unreachable."""
    queue: int | None
    """Delivery tasks waiting in the Celery queue (all orgs); ``None``: not a Redis broker,
    or unreachable."""
    pending: int
    """The org's deliveries waiting for an attempt."""
    delivering: int
    """The org's deliveries a worker holds now."""
    oldest_due: datetime | None
    """When the longest-waiting pending delivery became due."""


class DestinationHealth(Model):
    name: str
    type: str
    enabled: bool
    disabled_reason: str | None
    attempts: int
    """Attempts in the window."""
    succeeded: int
    p95_ms: float | None
    last_error: str | None
    """The newest error in the window."""
    last_error_at: datetime | None

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.attempts if self.attempts else None


class Overview(Model):
    since: datetime
    """Start of the window (an hour ago)."""
    minutes: list[MinuteCount]
    backlog: Backlog
    destinations: list[DestinationHealth]
