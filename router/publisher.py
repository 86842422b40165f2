"""``Publisher``: publish without waiting for Redis, and lose nothing while it is down.

``publish()`` validates the event and assigns its id in the caller (``InvalidEvent``
still reaches it), appends it to an in-memory queue and returns. A background thread
sends what is queued in batches, one round trip each (the ``publish_many`` path). While
Redis is unreachable (or the stream is full) the thread moves queued events to the disk
spool every ``publisher_flush_interval`` and retries with backoff; when Redis is back
the spool drains, oldest first, before newer events are sent. When the queue reaches
``publisher_queue_size`` the caller moves it to the spool itself, so memory stays
bounded even if the thread is stuck.

The spool replays events in the order they were published. Every write of queued events
to it happens under one lock (``_spool_order``), taken before the events leave the queue;
the one batch outside the queue, the one the thread is sending (``_Held``), is written
by a caller that spools newer events first, in the same write, and the thread then
removes it again if Redis took it after all.

What can be lost: on ``kill -9``, only events still in memory, i.e. published within the
last flush interval; on a Redis outage, nothing while the spool has room; beyond it, what
the spool's policy drops, counted in ``stats()`` and logged. A replayed event (sent, then
spooled again because the answer was lost) is harmless: the router stores an id once.
"""

from __future__ import annotations

import atexit
import collections
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eventrouter.router.client import Envelope, _settings, append, envelope
from eventrouter.router.errors import PublishError
from eventrouter.router.settings import Settings
from eventrouter.router.spool import Put, Spool, SpoolError

log = logging.getLogger("eventrouter.publisher")
RETRY_CAP_SECONDS = 2.0
"""Longest wait between two attempts to reach Redis."""
SPOOL_RECHECK_SECONDS = 5.0
"""An idle publisher looks this often for events other processes left in its spool."""
DROP_LOG_SECONDS = 10.0
"""At most one "dropped" log line this often (every drop is counted regardless)."""


class _Held:
    """The batch the thread took from the queue and has neither sent nor spooled yet."""

    __slots__ = ("claimed", "events", "rows")

    def __init__(self, events: list[Envelope]) -> None:
        self.events = events
        self.claimed = False
        """A caller spooled it, ahead of its own newer events; the thread spools it not."""
        self.rows: list[int] = []
        """Its rows in the spool once a caller wrote it (under ``_spool_order``)."""


@dataclass(frozen=True)
class PublisherStats:
    queued: int
    """Events in memory, waiting for the background thread."""
    in_flight: int
    """Events in the batch being sent (or spooled) right now."""
    spooled: int
    """Events waiting in the disk spool."""
    sent: int
    """Events Redis accepted from this publisher (since it started, or since a fork)."""
    dropped: int
    """Events this publisher dropped because the spool was full."""
    redis_up: bool
    last_error: str | None


class Publisher:
    """A background publisher; thread-safe, fork-safe, flushed at interpreter exit.

    Arguments default to the ``EVENTROUTER_PUBLISHER_*`` and ``EVENTROUTER_SPOOL_*``
    settings. The thread starts on the first ``publish()``.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        spool_dir: str | os.PathLike[str] | None = None,
        spool_max_bytes: int | None = None,
        on_spool_full: str | None = None,
        queue_size: int | None = None,
        batch_size: int | None = None,
        flush_interval: float | None = None,
        install_atexit: bool = True,
    ) -> None:
        config = _settings(settings)
        self.settings = config
        self.policy = on_spool_full or config.spool_full_policy
        if self.policy not in ("drop_new", "drop_oldest", "block"):
            raise ValueError(
                f"on_spool_full {self.policy!r} is invalid: use drop_new, drop_oldest or block"
            )
        self.spool = Spool(
            os.fspath(spool_dir or config.spool_dir),
            max_bytes=spool_max_bytes or config.spool_max_bytes,
            sync=config.spool_sync,
        )
        self.queue_size = queue_size or config.publisher_queue_size
        self.batch_size = batch_size or config.publisher_batch_size
        self.flush_interval = flush_interval or config.publisher_flush_interval
        self._reset()
        self._closed = False
        reference = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _call(reference, "_after_fork"))
        if install_atexit:
            atexit.register(_call, reference, "_at_exit")

    def _after_fork(self) -> None:
        self.spool.forget_after_fork()
        self._reset()

    def _reset(self) -> None:
        """Fresh state: at construction, and in a forked child, whose thread does not
        exist and whose queue holds the parent's events (the parent sends those)."""
        self._cond = threading.Condition(threading.Lock())
        # Taken before ``_cond`` when both are held: one spool write of queued events at a
        # time, in the order they left the queue.
        self._spool_order = threading.Lock()
        self._queue: collections.deque[Envelope] = collections.deque()
        self._held: _Held | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._sender_waiting = False
        self._in_flight = 0
        self._spooled = -1  # unknown until the thread looks at the spool
        self._sent = 0
        self._dropped = 0
        self._redis_up = True
        self._last_error: str | None = None
        self._next_attempt = 0.0
        self._failures = 0
        self._next_recount = 0.0
        self._last_drop_log = 0.0
        self._dropped_since_log = 0

    # -- the caller's side --------------------------------------------------------------
    def publish(
        self,
        name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        env: str | None = None,
        org: str | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Validate the event (``InvalidEvent``), queue it, return its id at once.

        With an ``idempotency_key``, the id is the first event's with that key, as from
        ``publish()``. Blocks only under the ``block`` policy with a full spool.
        """
        built = envelope(
            self.settings, name, payload, org=org, env=env, idempotency_key=idempotency_key
        )
        overflow = False
        with self._cond:
            if self._closed:
                raise PublishError("this Publisher is closed; create a new one")
            if self._thread is None:
                self._start()
            queue = self._queue
            while self.policy == "block" and len(queue) >= self.queue_size and not self._closed:
                self._cond.wait(self.flush_interval)  # the spool is full: wait for room
            queue.append(built)
            if len(queue) >= self.queue_size:
                overflow = True
            elif self._sender_waiting:
                self._sender_waiting = False
                self._cond.notify()
        if overflow:
            self._spool_from_caller()
        return built[0]

    def _spool_from_caller(self) -> None:
        """The queue is full (Redis slow or down): move it to disk in one transaction,
        behind the batch the thread holds, if any (it is older). Under ``block``, what
        does not fit goes back to the front of the queue, and callers wait at the queue's
        bound until the thread makes room."""
        with self._spool_order:
            with self._cond:
                queued = list(self._queue)
                self._queue.clear()
                held = self._held
                if held is not None and held.claimed:
                    held = None  # an earlier caller spooled it already
                if held is not None:
                    held.claimed = True
                older = held.events if held is not None else []
            events = older + queued
            if not events:
                return  # another caller spooled them while this one waited
            try:
                spooled, _, rows = self._spool(events)
            except SpoolError as exc:  # the disk refused: keep the events in memory
                log.error("%s", exc)
                with self._cond:
                    if held is not None:
                        held.claimed = False
                    self._queue.extendleft(reversed(queued))
                return
            with self._cond:
                if held is not None:
                    held.rows = [row for row in rows[: len(older)] if row is not None]
                if self.policy == "block" and spooled < len(events):
                    # The held batch's events among them may be sent twice: harmless.
                    self._queue.extendleft(reversed(events[spooled:]))
                if self._sender_waiting:
                    self._sender_waiting = False
                    self._cond.notify()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything queued or spooled was accepted by Redis; ``False`` when
        ``timeout`` seconds passed first (the events stay queued or spooled)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            if not self._spooled and not self._closed:
                self._spooled = self._count_spool()  # events other processes left, too
            while self._queue or self._in_flight or self._spooled:
                if self._thread is None:
                    if self._spooled == 0 or self._closed:
                        return not self._queue
                    self._start()
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                if self._sender_waiting:
                    self._sender_waiting = False
                    self._cond.notify_all()
                self._cond.wait(min(0.05, remaining) if remaining is not None else 0.05)
        return True

    def close(self, timeout: float | None = None) -> bool:
        """Flush (within ``timeout``), stop the thread, and spool whatever is still in
        memory, so a later ``Publisher`` on the same spool sends it. Returns whether
        everything was sent."""
        timeout = self.settings.publisher_exit_timeout if timeout is None else timeout
        flushed = self.flush(timeout)
        with self._cond:
            self._closed = True
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(max(1.0, self.flush_interval * 2))
        with self._spool_order, self._cond:
            held = self._held
            if held is not None and not held.claimed and not (thread and thread.is_alive()):
                self._held = None
                self._queue.extendleft(reversed(held.events))  # older than the queue
            leftover = list(self._queue)
            self._queue.clear()
        self._spool_leftover(leftover, time.monotonic() + timeout)
        self.spool.close()
        return flushed

    def _spool_leftover(self, events: list[Envelope], deadline: float) -> None:
        """At close: spool what is left. Under ``block`` wait for room until ``deadline``
        (another process may be draining); what still does not fit is dropped, counted
        and logged like any drop."""
        while events:
            spooled = self._spool(events).spooled
            events = events[spooled:] if self.policy == "block" else []
            if events and time.monotonic() >= deadline:
                with self._cond:
                    self._dropped += len(events)
                log.error(
                    "eventrouter: closing with the spool at %s full: dropped %d events",
                    self.spool.path,
                    len(events),
                )
                return
            if events:
                time.sleep(self.flush_interval)

    def _at_exit(self) -> None:
        if not self._closed and not self.close():
            log.warning(
                "eventrouter: exiting with events not yet accepted by Redis; they wait "
                "in the spool at %s for the next Publisher",
                self.spool.path,
            )

    def stats(self) -> PublisherStats:
        with self._cond:
            return PublisherStats(
                queued=len(self._queue),
                in_flight=self._in_flight,
                spooled=max(0, self._spooled),
                sent=self._sent,
                dropped=self._dropped,
                redis_up=self._redis_up,
                last_error=self._last_error,
            )

    # -- the background thread ----------------------------------------------------------
    def _start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="eventrouter-publisher", daemon=True)
        self._thread.start()

    def _count_spool(self) -> int:
        try:
            return self.spool.count()
        except SpoolError as exc:
            log.error("%s", exc)
            return 0

    def _run(self) -> None:
        self._spooled = self._count_spool()
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            try:
                self._handle(batch)
            except SpoolError as exc:  # the disk refused: the events stay in memory
                log.error("%s", exc)
                self._unhold()
            except Exception:  # never let the thread die: events would silently pile up
                log.exception("eventrouter publisher: unexpected error; retrying")
                self._unhold()

    def _unhold(self) -> None:
        """After a failure: the held batch, unless a caller spooled it, goes back to the
        front of the queue; wait a flush interval before the next try."""
        with self._cond:
            held, self._held = self._held, None
            if held is not None and not held.claimed:
                self._queue.extendleft(reversed(held.events))
            self._in_flight = 0
            self._cond.wait(self.flush_interval)

    def _next_batch(self) -> list[Envelope] | None:
        """The next events to handle (maybe none, when only the spool has work); ``None``
        when stopping. While Redis is down the queue is gathered for a flush interval, so
        it reaches the disk in one transaction, not one per event."""
        with self._cond:
            while True:
                if self._stopping:
                    return None
                now = time.monotonic()
                if now < self._next_attempt:
                    self._cond.wait(min(self.flush_interval, self._next_attempt - now))
                    if self._queue or time.monotonic() >= self._next_attempt:
                        break
                    continue
                if self._queue or self._spooled:
                    break
                if now >= self._next_recount:
                    # Another process sharing the spool may have left events in it.
                    self._next_recount = now + SPOOL_RECHECK_SECONDS
                    self._spooled = self._count_spool()
                    continue
                self._sender_waiting = True
                self._cond.wait(self.flush_interval)
                self._sender_waiting = False
            queue = self._queue
            if time.monotonic() < self._next_attempt:  # to the spool: all in one write
                batch = list(queue)
                queue.clear()
            else:
                batch = [queue.popleft() for _ in range(min(len(queue), self.batch_size))]
            self._in_flight = len(batch)
            self._held = _Held(batch) if batch else None
            return batch

    def _handle(self, batch: list[Envelope]) -> None:
        redis_down = time.monotonic() < self._next_attempt
        if redis_down or self._spooled:
            # Older events wait on disk: these go behind them, to keep the order.
            self._spool_in_thread()
            if not redis_down:
                self._drain_spool()
            return
        if self._send(batch):
            self._sent_held()
            self._done(len(batch))
        else:
            self._spool_in_thread()

    def _sent_held(self) -> None:
        """Redis took the held batch. If a caller spooled it meanwhile (ahead of newer
        events), remove those rows again once that write is done."""
        with self._cond:
            held, self._held = self._held, None
        if held is None or not held.claimed:
            return
        with self._spool_order:  # the caller's write is over
            rows = held.rows
        if rows:
            self.spool.remove_rows(rows)
            with self._cond:
                self._spooled = max(0, self._spooled - len(rows))

    def _spool_in_thread(self) -> None:
        """Spool the held batch, unless a caller did already; under ``block`` what did
        not fit goes back to the front of the queue (callers then wait at the queue's
        bound), so nothing is dropped."""
        with self._spool_order:
            with self._cond:
                held, self._held = self._held, None
            batch = held.events if held is not None and not held.claimed else []
            try:
                spooled = self._spool(batch).spooled
            except SpoolError:
                with self._cond:
                    self._queue.extendleft(reversed(batch))
                raise
            if self.policy == "block" and spooled < len(batch):
                with self._cond:
                    self._queue.extendleft(reversed(batch[spooled:]))
        with self._cond:
            if self.policy == "block" and spooled < len(batch):
                self._in_flight = 0
                self._cond.notify_all()
                self._cond.wait(self.flush_interval)  # room comes from a drain, not a spin
        self._done(0)

    def _drain_spool(self) -> None:
        """Send the spool's oldest batch; on success the next loop sends the next one."""
        events = self.spool.head(self.batch_size)
        if not events:
            with self._cond:
                self._spooled = 0
                self._cond.notify_all()
            return
        with self._cond:
            self._in_flight = len(events)
        if self._send([e.envelope for e in events]):
            self.spool.remove(events)
            with self._cond:
                remaining = max(0, self._spooled - len(events))
            if not remaining:  # another process may have spooled meanwhile: look
                remaining = self.spool.count()
            with self._cond:
                self._spooled = remaining
            if not remaining:
                log.warning("eventrouter: spool drained; publishing directly again")
            self._done(len(events))
        else:
            self._done(0)

    def _send(self, batch: list[Envelope]) -> bool:
        """One round trip for ``batch``; on failure, note it and schedule the retry."""
        try:
            append(self.settings, batch, retries=0)
        except PublishError as exc:
            self._failures += 1
            delay = random.uniform(0.5, 1.0) * min(RETRY_CAP_SECONDS, 0.1 * 2**self._failures)
            with self._cond:
                if self._redis_up:
                    log.warning(
                        "eventrouter: %s; spooling events to %s and retrying", exc, self.spool.path
                    )
                self._redis_up = False
                self._last_error = str(exc)
                self._next_attempt = time.monotonic() + delay
            return False
        if not self._redis_up:
            log.warning("eventrouter: Redis accepts events again; draining the spool")
        with self._cond:
            self._failures = 0
            self._redis_up = True
            self._next_attempt = 0.0
        return True

    def _done(self, sent: int) -> None:
        with self._cond:
            self._sent += sent
            self._in_flight = 0
            self._cond.notify_all()

    def _spool(self, events: list[Envelope]) -> Put:
        """Put ``events`` in the spool under the policy; count and log what it dropped."""
        put = self.spool.put(events, self.policy)
        spooled, dropped = put.spooled, put.dropped
        with self._cond:
            if self._spooled <= 0 and spooled:
                log.warning(
                    "eventrouter: Redis is not accepting events; spooling to %s", self.spool.path
                )
            self._spooled = max(0, self._spooled) + spooled
            self._dropped += dropped
            self._dropped_since_log += dropped
            now = time.monotonic()
            if self._dropped_since_log and now - self._last_drop_log >= DROP_LOG_SECONDS:
                log.error(
                    "eventrouter: the spool at %s is full (%d bytes): dropped %d events "
                    "(policy %s), %d in all; raise EVENTROUTER_SPOOL_MAX_BYTES or bring "
                    "Redis back",
                    self.spool.path,
                    self.spool.max_bytes,
                    self._dropped_since_log,
                    self.policy,
                    self._dropped,
                )
                self._last_drop_log = now
                self._dropped_since_log = 0
        return put


def _call(reference: weakref.ref[Publisher], method: str) -> None:
    publisher = reference()
    if publisher is not None:
        getattr(publisher, method)()


_default: Publisher | None = None
_default_lock = threading.Lock()


def default_publisher() -> Publisher:
    """The process's shared ``Publisher`` (from ``EVENTROUTER_*`` settings), made on
    first use; after a fork the child's is its own (same spool)."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = Publisher()
    return _default
