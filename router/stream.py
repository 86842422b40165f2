"""The router's side of the Redis stream: the consumer group, reads, acknowledgements.

Entries are read as a member of the ``routers`` consumer group. After a failure the
reader replays its own unacknowledged entries first; entries a stopped router left
unacknowledged for ``claim_idle_seconds`` are taken over (XAUTOCLAIM). A stored entry
is acknowledged and deleted in one MULTI, so the stream holds only unrouted events and
its length is the backlog that ``stream_max_length`` bounds.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Sequence
from typing import Any

import redis

from eventrouter.router.redis_conn import redis_client
from eventrouter.router.settings import Settings

log = logging.getLogger("eventrouter.router")
GROUP = "routers"
FLOW_SECONDS = 0.1
"""Entries read within this long of the previous ones mean a steady flow (see linger)."""
Entry = tuple[bytes, dict[bytes, bytes] | None]


class StreamReader:
    """One consumer of the ``routers`` group on ``settings.stream``."""

    def __init__(self, settings: Settings, *, consumer: str | None = None) -> None:
        self.stream = settings.stream
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.redis: redis.Redis = redis_client(settings.redis_url)
        self._batch = settings.router_batch_size
        self._block_ms = settings.router_block_ms
        self._linger = settings.router_linger_ms / 1000
        self._claim_idle = settings.claim_idle_seconds
        self._group_ready = False
        self._replay_own = True
        self._next_autoclaim = 0.0
        self._last_entries_at = -FLOW_SECONDS

    def ensure_group(self) -> None:
        """Create the consumer group (and the stream) unless they exist."""
        try:
            self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    def recover(self) -> None:
        """After a failure: check the group again (a Redis restart without persistence
        loses it) and replay this consumer's unacknowledged entries before new ones."""
        self._group_ready = False
        self._replay_own = True

    def read(self) -> list[Entry]:
        """The next batch: own unacknowledged entries, entries taken over from a stopped
        router, or new entries (waiting up to ``router_block_ms`` for them)."""
        if not self._group_ready:
            self.ensure_group()
        if self._replay_own:
            reply = self.redis.xreadgroup(
                GROUP, self.consumer, {self.stream: "0"}, count=self._batch
            )
            entries = _entries(reply)
            if entries:
                return entries
            self._replay_own = False
        taken = self._take_over_idle()
        if taken:
            return taken
        reply = self.redis.xreadgroup(
            GROUP, self.consumer, {self.stream: ">"}, count=self._batch, block=self._block_ms
        )
        entries = _entries(reply)
        if entries:
            now = time.monotonic()
            flowing = now - self._last_entries_at < FLOW_SECONDS
            self._last_entries_at = now
            wait = self._linger_left(entries[0][0]) if flowing else 0.0
            if wait > 0 and len(entries) < self._batch:
                # Events keep coming: wait a moment so one batch (one transaction, one task
                # per destination) carries several of them. A lone event is not delayed.
                time.sleep(wait)
                more = self.redis.xreadgroup(
                    GROUP, self.consumer, {self.stream: ">"}, count=self._batch - len(entries)
                )
                entries += _entries(more)
        return entries

    def _linger_left(self, oldest_id: bytes) -> float:
        """How much longer a batch whose oldest entry is ``oldest_id`` may wait for more.

        The linger counts from when Redis took that entry (the milliseconds in its id),
        not from the read: entries that arrived while the previous batch was being stored
        have waited already, and go at once. A clock behind Redis's waits the whole
        linger at most, as if the entry had just arrived."""
        millis = oldest_id.partition(b"-")[0]
        age = time.time() - int(millis) / 1000 if millis.isdigit() else 0.0
        return min(self._linger, self._linger - age)

    def _take_over_idle(self) -> list[Entry]:
        now = time.monotonic()
        if now < self._next_autoclaim:
            return []
        self._next_autoclaim = now + self._claim_idle / 2
        claimed = self.redis.xautoclaim(
            self.stream,
            GROUP,
            self.consumer,
            min_idle_time=int(self._claim_idle * 1000),
            start_id="0-0",
            count=self._batch,
        )
        if claimed[1]:
            log.warning("took over %d entries left by a stopped router", len(claimed[1]))
        return list(claimed[1])

    def ack(self, stream_ids: Sequence[bytes]) -> None:
        """Acknowledge and delete stored entries, atomically.

        In one MULTI, because the two apart can leave an entry acknowledged but not
        deleted (Redis restarting from its AOF between them, or the connection dropping
        between them): no router would ever read it again, yet it would count against
        ``stream_max_length`` forever. A MULTI cut short is discarded whole, and the
        entries are replayed (a no-op: they are stored).
        """
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(self.stream, GROUP, *stream_ids)
        pipe.xdel(self.stream, *stream_ids)
        pipe.execute()

    def leave_group(self) -> None:
        """Remove this consumer from the group if it holds no unacknowledged entries."""
        try:
            pending = self.redis.xpending_range(
                self.stream, GROUP, min="-", max="+", count=1, consumername=self.consumer
            )
            if not pending:
                self.redis.xgroup_delconsumer(self.stream, GROUP, self.consumer)
        except redis.RedisError:
            pass


def _entries(reply: Any) -> list[Entry]:
    if not reply:
        return []
    entries: list[Entry] = []
    for _stream, items in reply:
        entries.extend(items)
    return entries
