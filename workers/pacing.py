"""Keeping one slow destination from occupying every worker.

A worker process sends a batch sequentially, so a destination answering in seconds
would hold each process it reaches for as long as its batch lasts, and the tasks of
every other destination would queue behind it. Two limits prevent that:

- every task is time-boxed (``delivery_time_box_seconds``, in ``workers.delivery``);
- a destination seen to answer slowly (a request took ``slow_request_seconds`` or more)
  is served by at most ``slow_destination_workers`` processes at once, across hosts.
  A task that finds every slot taken hands its rows back to the scheduler at once
  (cheap) instead of waiting in line, so the queue keeps moving for everyone else.

Slots are Postgres transaction-level advisory locks: a worker that dies, or a
connection that drops, frees its slot without any cleanup.

What one process learns, every process knows: a slow destination is marked in Redis (a key
that expires with the memory), and a request still out after ``slow_request_seconds`` marks
it at once, not when its answer comes. Otherwise each worker process learned on its own,
each losing a whole round of requests to a destination answering in seconds. Redis being
unreachable only takes that sharing away.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import redis
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from eventrouter.router.db.claims import try_destination_slot

SLOT_KEY_BASE = 0x45520000
"""First key of the advisory-lock class holding slow-destination slots (``ER`` + slot)."""
SLOW_MEMORY_SECONDS = 60.0
"""How long a destination stays 'slow' after its last slow request."""
SHARED_CHECK_SECONDS = 0.5
"""How long a 'not slow' read from Redis is trusted before asking again (one round trip
per task would cost a busy worker more than the sharing saves)."""

log = logging.getLogger("eventrouter.worker")


class SlowDestinations:
    """Which destinations are slow, as this process knows and as Redis tells (``shared``:
    keys ``<prefix>:slow:<destination id>``), and the slot gate for them."""

    def __init__(
        self,
        threshold: float,
        workers: int,
        memory: float = SLOW_MEMORY_SECONDS,
        *,
        shared: redis.Redis | None = None,
        prefix: str = "eventrouter",
    ):
        self.threshold = threshold
        self.workers = workers
        self.memory = memory
        self.shared = shared
        self.prefix = prefix
        self._slow_until: dict[int, float] = {}
        self._checked_until: dict[int, float] = {}
        self._lock = threading.Lock()

    def is_slow(self, destination_id: int) -> bool:
        now = time.monotonic()
        with self._lock:
            until = self._slow_until.get(destination_id)
            if until is not None:
                if until >= now:
                    return True
                del self._slow_until[destination_id]
            if self.shared is None or self._checked_until.get(destination_id, 0.0) > now:
                return False
            self._checked_until[destination_id] = now + SHARED_CHECK_SECONDS
        try:
            left_ms = self.shared.pttl(self._key(destination_id))
        except redis.RedisError as exc:
            log.debug("slow-destination marks unavailable: %s", exc)
            return False
        if not isinstance(left_ms, int) or left_ms <= 0:
            return False
        with self._lock:
            self._slow_until[destination_id] = now + left_ms / 1000
        return True

    def observe(self, destination_id: int, durations: list[float]) -> None:
        """Mark the destination slow if any request was slow; clear it when none was."""
        if not durations:
            return
        if max(durations) >= self.threshold:
            self.mark_slow(destination_id)
            return
        with self._lock:
            known = self._slow_until.pop(destination_id, None) is not None
        if known and self.shared is not None:
            with suppress(redis.RedisError):
                self.shared.delete(self._key(destination_id))

    def mark_slow(self, destination_id: int) -> None:
        """The destination is slow (a request took ``threshold`` or longer, or still runs)."""
        with self._lock:
            self._slow_until[destination_id] = time.monotonic() + self.memory
        if self.shared is not None:
            with suppress(redis.RedisError):
                self.shared.set(self._key(destination_id), 1, px=int(self.memory * 1000))

    def _key(self, destination_id: int) -> str:
        return f"{self.prefix}:slow:{destination_id}"

    @contextmanager
    def slot(self, engine: Engine, destination_id: int) -> Iterator[bool]:
        """Hold one of the destination's slots for the block; yield whether one was free."""
        conn = engine.connect()
        try:
            taken = False
            for index in range(self.workers):
                if try_destination_slot(conn, SLOT_KEY_BASE + index, destination_id):
                    taken = True
                    break
            yield taken
        finally:
            # Ending the transaction frees the slot; a broken connection frees it too.
            with suppress(DBAPIError):
                conn.rollback()
            conn.close()
