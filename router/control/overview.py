"""The overview: what was delivered in the last hour, what waits, how each destination is
doing. Read-only; a viewer may see it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis

from eventrouter.router.control.caller import Role
from eventrouter.router.control.service import Service
from eventrouter.router.db import overview as store
from eventrouter.router.models.overview import Backlog, Overview
from eventrouter.router.redis_conn import redis_client

WINDOW = timedelta(hours=1)


class Overviews(Service):
    def get(self, *, now: datetime | None = None) -> Overview:
        """The last hour, per minute, with the backlog and every destination's health."""
        self.caller.require(Role.VIEWER, "reading the overview")
        since = (now or datetime.now(UTC)) - WINDOW
        with self.transaction() as conn:
            minutes = store.attempts_per_minute(conn, self.org, since)
            health = store.destination_health(conn, self.org, since)
            pending, delivering, oldest_due = store.open_deliveries(conn, self.org)
        backlog = Backlog(
            stream=self._redis_count(self.settings.redis_url, "xlen", self.settings.stream),
            queue=self._queued(),
            pending=pending,
            delivering=delivering,
            oldest_due=oldest_due,
        )
        return Overview(since=since, minutes=minutes, backlog=backlog, destinations=health)

    def _queued(self) -> int | None:
        """Celery keeps a Redis broker's queue as a list named after it."""
        url = self.settings.celery_broker_url
        if not url.startswith(("redis://", "rediss://", "unix://")):
            return None
        return self._redis_count(url, "llen", self.settings.queue)

    @staticmethod
    def _redis_count(url: str, command: str, key: str) -> int | None:
        """A count from Redis, or ``None`` when it cannot be had: the overview still shows
        what Postgres knows while Redis is down."""
        try:
            return int(getattr(redis_client(url, retries=0), command)(key))
        except (redis.RedisError, OSError):
            return None
