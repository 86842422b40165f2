"""The router process: stream → Postgres → Celery.

Each loop reads a batch from the consumer group (``router.stream``), stores its events
and planned deliveries in one transaction (``router.store``), acknowledges the entries
after the commit, then dispatches. A crash anywhere replays the batch: event ids are
primary keys, so the replay stores nothing twice, and deliveries whose dispatch was lost
are found by the scheduler. While the delivery queue holds ``max_queued_tasks`` tasks,
the router reads nothing: a backlog waits in the stream, not in the broker or in memory.
An unreachable broker stops only the dispatching: events are stored on, and the
scheduler dispatches their deliveries once it is back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence

import redis
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from eventrouter.router import telemetry
from eventrouter.router.control.approvals import Approvals
from eventrouter.router.db import make_engine
from eventrouter.router.db.engine import safe_url
from eventrouter.router.dispatch import BrokerGuard, Dispatch, Dispatcher, guarded
from eventrouter.router.errors import first_line
from eventrouter.router.heartbeat import Heartbeat
from eventrouter.router.redis_conn import safe_redis_url
from eventrouter.router.scheduler import Scheduler
from eventrouter.router.settings import Settings
from eventrouter.router.slack_sync import SlackSync
from eventrouter.router.store import BatchResult, EventStore
from eventrouter.router.stream import GROUP, Entry, StreamReader

log = logging.getLogger("eventrouter.router")
HEALTH_CHECK_SECONDS = 60.0
"""How often a router looks for destinations to disable automatically."""
HISTORY_MAINTENANCE_SECONDS = 3600.0
"""How often a router creates the history's partitions ahead and applies the retention."""
QUEUE_CHECK_SECONDS = 0.1


class Backoff:
    """Delays between retries of a failing step: ``start``, doubled up to ``cap``."""

    def __init__(self, start: float = 0.5, cap: float = 2.0) -> None:
        self._start = start
        self._cap = cap
        self._next = start

    def reset(self) -> None:
        self._next = self._start

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self._cap)
        return delay


class RouterService:
    """One router: a stream reader, a store, the scheduler, and the broker behind a guard."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        dispatcher: Dispatch | BrokerGuard | None = None,
        consumer: str | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.database_url)
        self.reader = StreamReader(settings, consumer=consumer)
        self.store = EventStore(self.engine)
        self.broker = guarded(dispatcher or Dispatcher(settings))
        self.scheduler = Scheduler(
            settings, self.engine, self.broker, partitions=self.store.partitions
        )
        self.approvals = Approvals(self.engine, settings)
        self.slack_sync = SlackSync(self.approvals, settings)
        self._next_config_check = 0.0
        self._next_tick = 0.0
        self._next_health_check = time.monotonic() + HEALTH_CHECK_SECONDS
        self._next_history_maintenance = 0.0
        self._next_queue_check = 0.0
        self._queue_full = False
        self.heartbeat = Heartbeat(settings.heartbeat_file)

    # -- the loop --------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Route until ``stop`` is set; outages of Redis or Postgres are waited out."""
        backoff = Backoff()
        log.info(
            "router %s reading %s (group %s)", self.reader.consumer, self.settings.stream, GROUP
        )
        while not stop.is_set():
            self.heartbeat.beat()  # also while an outage is waited out: alive, not stuck
            try:
                self.step()
                backoff.reset()
            except Exception as exc:  # never die of a transient error
                delay = backoff.next()
                self._log_failure(exc, delay)
                self.reader.recover()
                stop.wait(delay)
        self.reader.leave_group()
        self.slack_sync.close()
        log.info("router %s stopped", self.reader.consumer)

    def _log_failure(self, exc: Exception, delay: float) -> None:
        if isinstance(exc, redis.RedisError):
            url = safe_redis_url(self.settings.redis_url)
            log.error("Redis at %s unavailable (%s); retrying in %.1fs", url, exc, delay)
        elif isinstance(exc, DBAPIError):
            url = safe_url(self.settings.database_url)
            log.error(
                "Postgres at %s unavailable (%s); retrying in %.1fs", url, first_line(exc), delay
            )
        else:
            log.exception("router step failed; retrying in %.1fs", delay)

    def step(self) -> int:
        """Housekeeping if due, then one batch; return the number of entries handled."""
        now = time.monotonic()
        if now >= self._next_config_check:
            self.store.refresh_routing_table()
            self._next_config_check = now + self.settings.config_refresh_seconds
        if now >= self._next_tick:
            self.scheduler.tick()
            self.approvals.expire_due()
            self.emit_system_events()
            self.slack_sync.poke()
            self._next_tick = time.monotonic() + self.settings.scheduler_interval_seconds
        if now >= self._next_health_check:
            self.scheduler.disable_failing_destinations()
            self._next_health_check = now + HEALTH_CHECK_SECONDS
        if now >= self._next_history_maintenance:
            # Due again in an hour even if this one fails: a failing maintenance must not
            # be retried at every step, in front of the routing.
            self._next_history_maintenance = now + HISTORY_MAINTENANCE_SECONDS
            self.scheduler.maintain_history()
        if self._queue_is_full(now):
            time.sleep(QUEUE_CHECK_SECONDS)
            return 0
        entries = self.reader.read()
        if entries:
            self.handle(entries)
        return len(entries)

    def _queue_is_full(self, now: float) -> bool:
        """Whether the delivery queue holds ``max_queued_tasks``; looked at every 0.1 s.
        Unknown (no queue to ask, or the broker is down) counts as not full."""
        limit = self.settings.max_queued_tasks
        if not limit:
            return False
        if now < self._next_queue_check:
            return self._queue_full
        self._next_queue_check = now + QUEUE_CHECK_SECONDS
        waiting = self.broker.waiting()
        full = waiting is not None and waiting >= limit
        if full != self._queue_full:
            log.info(
                "delivery queue %s: %s reading the stream",
                "full" if full else "drained",
                "pausing" if full else "resuming",
            )
        self._queue_full = full
        return full

    # -- one batch -------------------------------------------------------------
    def handle(self, entries: Sequence[Entry]) -> BatchResult:
        """Store, acknowledge, dispatch; the commit comes before the ack."""
        dispatching = self.broker.up  # if not, the deliveries are left to the scheduler
        result = self.store.store(entries, dispatching=dispatching)
        self.reader.ack([stream_id for stream_id, _ in entries])
        if dispatching and result.deliveries:
            self.scheduler.dispatch(result.deliveries)
        # Counted after the dispatch: the deliveries do not wait for a Redis round trip.
        telemetry.add(
            self.settings,
            telemetry.batch_counts(
                stored=result.events,
                duplicates=result.duplicates,
                rejected=result.rejected,
                deliveries=len(result.deliveries),
            ),
        )
        return result

    def emit_system_events(self) -> int:
        """Store the system events the database triggers wrote, and dispatch their
        deliveries; return how many were emitted."""
        dispatching = self.broker.up
        result = self.store.take_system_events(dispatching=dispatching)
        if dispatching and result.deliveries:
            self.scheduler.dispatch(result.deliveries)
        return result.events
