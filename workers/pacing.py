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
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from eventrouter.router.db.claims import try_destination_slot

SLOT_KEY_BASE = 0x45520000
"""First key of the advisory-lock class holding slow-destination slots (``ER`` + slot)."""
SLOW_MEMORY_SECONDS = 60.0
"""How long a destination stays 'slow' after its last slow request."""


class SlowDestinations:
    """This process's view of which destinations are slow, and the slot gate for them."""

    def __init__(self, threshold: float, workers: int, memory: float = SLOW_MEMORY_SECONDS):
        self.threshold = threshold
        self.workers = workers
        self.memory = memory
        self._slow_until: dict[int, float] = {}
        self._lock = threading.Lock()

    def is_slow(self, destination_id: int) -> bool:
        with self._lock:
            until = self._slow_until.get(destination_id)
            if until is None:
                return False
            if until < time.monotonic():
                del self._slow_until[destination_id]
                return False
            return True

    def observe(self, destination_id: int, durations: list[float]) -> None:
        """Mark the destination slow if any request was slow; clear it when none was."""
        if not durations:
            return
        with self._lock:
            if max(durations) >= self.threshold:
                self._slow_until[destination_id] = time.monotonic() + self.memory
            else:
                self._slow_until.pop(destination_id, None)

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
