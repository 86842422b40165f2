"""The router process: stream → Postgres → Celery.

Each loop reads a batch from the consumer group, stores its events and planned
deliveries in one transaction, acknowledges the entries after the commit, then
dispatches. A crash anywhere replays the batch: event ids are primary keys, so the
replay stores nothing twice, and deliveries whose dispatch was lost are found by the
scheduler. Malformed entries are recorded in ``rejected_events`` and acknowledged, so
they never block the stream. While the delivery queue holds ``max_queued_tasks`` tasks,
the router reads nothing: a backlog waits in the stream, not in the broker or in memory.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from eventrouter.router.db import make_engine, pg_text, sql
from eventrouter.router.db.engine import is_connection_error, safe_url
from eventrouter.router.dispatch import Dispatch, Dispatcher
from eventrouter.router.errors import InvalidEvent, first_line
from eventrouter.router.events import STREAM_FIELD, Event, new_event_id, parse_envelope
from eventrouter.router.redis_conn import redis_client, safe_redis_url
from eventrouter.router.routing import ChannelRule, RoutingTable, SubscriptionRule
from eventrouter.router.scheduler import Scheduler
from eventrouter.router.settings import Settings

log = logging.getLogger("eventrouter.router")
GROUP = "routers"
SYSTEM_EVENT_BATCH = 500
HEALTH_CHECK_SECONDS = 60.0
"""How often a router looks for destinations to disable automatically."""
MAX_REJECTED_RAW = 4096
MAX_REJECTED_REASON = 1000
BACKOFF_START = 0.5
BACKOFF_CAP = 2.0
"""Outages are retried after 0.5, 1, 2, 2, … s: no spin, and back within 2 s of a recovery."""
QUEUE_CHECK_SECONDS = 0.1
FLOW_SECONDS = 0.1
"""Entries read within this long of the previous ones mean a steady flow (see linger)."""
Entry = tuple[bytes, dict[bytes, bytes] | None]


@dataclass
class BatchResult:
    events: int = 0
    duplicates: int = 0
    replayed: int = 0
    rejected: int = 0
    deliveries: list[tuple[int, int]] = field(default_factory=list)

    def add(self, other: BatchResult) -> None:
        self.events += other.events
        self.duplicates += other.duplicates
        self.replayed += other.replayed
        self.rejected += other.rejected
        self.deliveries += other.deliveries


def load_routing_table(conn: Connection) -> RoutingTable:
    """Read channels, subscriptions and enabled destinations into a fresh table."""
    version = conn.execute(sql.CONFIG_VERSION).scalar_one()
    channels = [
        ChannelRule(row.id, row.org, row.env, row.pattern, row.is_system)
        for row in conn.execute(sql.ROUTING_CHANNELS)
    ]
    subscriptions = [
        SubscriptionRule(
            row.id,
            row.org,
            row.env,
            row.enabled,
            frozenset(row.channel_ids),
            frozenset(row.destination_ids),
        )
        for row in conn.execute(sql.ROUTING_SUBSCRIPTIONS)
    ]
    enabled = [row.id for row in conn.execute(sql.ROUTING_ENABLED_DESTINATIONS)]
    return RoutingTable(channels, subscriptions, enabled, version=version)


def parse_entries(entries: Sequence[Entry]) -> tuple[list[Event], list[tuple[str, str, str]]]:
    """Split stream entries into events and ``(stream_id, reason, raw)`` rejections.

    Nothing in an entry can make this raise: whatever cannot be read is a rejection.
    """
    events: list[Event] = []
    rejected: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for stream_id, fields in entries:
        entry_id = stream_id.decode()
        if not fields:  # XADD needs a field: no fields means the entry was deleted
            reason = "entry was deleted from the stream (XDEL/XTRIM) before a router stored it"
            rejected.append((entry_id, reason, ""))
            continue
        raw = fields.get(STREAM_FIELD)
        if raw is None:
            keys = ", ".join(sorted(k.decode("utf-8", "replace") for k in fields))
            rejected.append((entry_id, f"entry has no 'event' field (fields: {keys})", ""))
            continue
        try:
            event = parse_envelope(raw)
        except Exception as exc:  # InvalidEvent, or anything else a hostile entry provokes
            reason = str(exc) if isinstance(exc, InvalidEvent) else _unreadable(exc)
            text = raw.decode("utf-8", "replace")[:MAX_REJECTED_RAW]
            rejected.append((entry_id, reason[:MAX_REJECTED_REASON], text))
            continue
        if event.id not in seen:
            seen.add(event.id)
            events.append(event)
    return events, rejected


def _unreadable(exc: BaseException) -> str:
    return f"entry could not be read: {type(exc).__name__}: {exc}"


class RouterService:
    """One router: reads the stream as a member of the ``routers`` consumer group."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        dispatcher: Dispatch | None = None,
        consumer: str | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.database_url)
        self.redis: redis.Redis = redis_client(settings.redis_url)
        self.dispatcher: Dispatch = dispatcher or Dispatcher(settings)
        self.scheduler = Scheduler(settings, self.engine, self.dispatcher)
        self.consumer = consumer or f"{socket.gethostname()}-{os.getpid()}"
        self.table = RoutingTable.empty()
        self._next_config_check = 0.0
        self._next_tick = 0.0
        self._next_health_check = time.monotonic() + HEALTH_CHECK_SECONDS
        self._next_autoclaim = 0.0
        self._read_own_pending = True
        self._waiting = getattr(self.dispatcher, "waiting", None)
        self._next_queue_check = 0.0
        self._queue_full = False
        self._last_entries_at = -FLOW_SECONDS

    # -- setup -----------------------------------------------------------------
    def ensure_group(self) -> None:
        try:
            self.redis.xgroup_create(self.settings.stream, GROUP, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    # -- the loop --------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        """Route until ``stop`` is set; outages of Redis or Postgres are waited out."""
        backoff = BACKOFF_START
        ready = False
        log.info("router %s reading %s (group %s)", self.consumer, self.settings.stream, GROUP)
        while not stop.is_set():
            try:
                if not ready:
                    self.ensure_group()
                    ready = True
                self.step()
                backoff = BACKOFF_START
            except redis.RedisError as exc:
                log.error(
                    "Redis at %s unavailable (%s); retrying in %.1fs",
                    safe_redis_url(self.settings.redis_url),
                    exc,
                    backoff,
                )
                self._read_own_pending = True
                ready = False
                stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_CAP)
            except DBAPIError as exc:
                log.error(
                    "Postgres at %s unavailable (%s); retrying in %.1fs",
                    safe_url(self.settings.database_url),
                    first_line(exc),
                    backoff,
                )
                self._read_own_pending = True
                stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_CAP)
            except Exception:  # e.g. the Celery broker: never die of a transient error
                log.exception("router step failed; retrying in %.1fs", backoff)
                self._read_own_pending = True
                stop.wait(backoff)
                backoff = min(backoff * 2, BACKOFF_CAP)
        self._leave_group()
        log.info("router %s stopped", self.consumer)

    def step(self) -> int:
        """Housekeeping if due, then one batch; return the number of entries handled."""
        now = time.monotonic()
        if now >= self._next_config_check:
            self.refresh_routing_table()
            self._next_config_check = now + self.settings.config_refresh_seconds
        if now >= self._next_tick:
            self.scheduler.tick()
            self.emit_system_events()
            self._next_tick = time.monotonic() + self.settings.scheduler_interval_seconds
        if now >= self._next_health_check:
            self.scheduler.disable_failing_destinations()
            self._next_health_check = now + HEALTH_CHECK_SECONDS
        if self._backpressure():
            time.sleep(QUEUE_CHECK_SECONDS)
            return 0
        entries = self._read()
        if entries:
            self.handle(entries)
        return len(entries)

    def emit_system_events(self) -> int:
        """Turn the outbox rows the database triggers wrote (``delivery:failed``,
        ``destination:disabled``) into events, routed like any other.

        They are stored directly, not sent through the stream: taking the outbox rows and
        storing the events is one transaction, so each is emitted exactly once.
        """
        with self.engine.begin() as conn:
            rows = conn.execute(sql.TAKE_SYSTEM_EVENTS, {"limit": SYSTEM_EVENT_BATCH}).fetchall()
            if not rows:
                return 0
            events = [
                Event(
                    id=new_event_id(),
                    name=row.name,
                    org=row.org,
                    env=row.env,
                    payload=row.payload,
                    published_at=row.created_at.timestamp(),
                )
                for row in rows
            ]
            result = self.persist(conn, events, [])
        if result.deliveries:
            try:
                self.dispatcher.dispatch(result.deliveries)
            except Exception:  # the scheduler re-dispatches after the grace period
                log.exception("dispatch of system event deliveries failed")
        return len(events)

    def _backpressure(self) -> bool:
        """Whether the delivery queue is full (``max_queued_tasks``); checked every 0.1 s."""
        limit = self.settings.max_queued_tasks
        if not limit or self._waiting is None:
            return False
        now = time.monotonic()
        if now >= self._next_queue_check:
            self._next_queue_check = now + QUEUE_CHECK_SECONDS
            full = self._waiting() >= limit
            if full != self._queue_full:
                log.info(
                    "delivery queue %s: %s reading the stream",
                    "full" if full else "drained",
                    "pausing" if full else "resuming",
                )
            self._queue_full = full
        return self._queue_full

    def refresh_routing_table(self) -> bool:
        with self.engine.connect() as conn:
            version = conn.execute(sql.CONFIG_VERSION).scalar_one()
            if version == self.table.version:
                return False
            self.table = load_routing_table(conn)
        log.info("routing table loaded (config version %d)", self.table.version)
        for channel_id, reason in self.table.broken.items():
            log.error("channel %d matches nothing: %s", channel_id, reason)
        return True

    def _read(self) -> list[Entry]:
        stream, batch = self.settings.stream, self.settings.router_batch_size
        if self._read_own_pending:
            # After a failure our own unacked entries are replayed first.
            reply = self.redis.xreadgroup(GROUP, self.consumer, {stream: "0"}, count=batch)
            entries = _entries(reply)
            if entries:
                return entries
            self._read_own_pending = False
        now = time.monotonic()
        if now >= self._next_autoclaim:
            self._next_autoclaim = now + self.settings.claim_idle_seconds / 2
            claimed = self.redis.xautoclaim(
                stream,
                GROUP,
                self.consumer,
                min_idle_time=int(self.settings.claim_idle_seconds * 1000),
                start_id="0-0",
                count=batch,
            )
            if claimed[1]:
                log.warning("took over %d entries left by a stopped router", len(claimed[1]))
                return list(claimed[1])
        reply = self.redis.xreadgroup(
            GROUP, self.consumer, {stream: ">"}, count=batch, block=self.settings.router_block_ms
        )
        entries = _entries(reply)
        if entries:
            now = time.monotonic()
            flowing = now - self._last_entries_at < FLOW_SECONDS
            self._last_entries_at = now
            linger = self.settings.router_linger_ms
            if linger and flowing and len(entries) < batch:
                # Events keep coming: wait a moment so one batch (one transaction, one task
                # per destination) carries several of them. A lone event is not delayed.
                time.sleep(linger / 1000)
                more = self.redis.xreadgroup(
                    GROUP, self.consumer, {stream: ">"}, count=batch - len(entries)
                )
                entries += _entries(more)
        return entries

    # -- one batch -------------------------------------------------------------
    def handle(self, entries: Sequence[Entry]) -> BatchResult:
        """Store, acknowledge, dispatch; the commit comes before the ack."""
        result = self.store(entries)
        self.ack([stream_id for stream_id, _ in entries])
        self.dispatch(result.deliveries)
        return result

    def store(self, entries: Sequence[Entry]) -> BatchResult:
        """Commit the batch's events, deliveries and rejections in one transaction; if
        Postgres refuses the batch for its content (not an outage), entry by entry."""
        events, rejected = parse_entries(entries)
        try:
            with self.engine.begin() as conn:
                result = self.persist(conn, events, rejected)
        except DBAPIError as exc:
            if is_connection_error(exc):
                raise
            log.warning("Postgres refused a batch (%s); storing it entry by entry", first_line(exc))
            return self.persist_each(entries)
        for stream_id, reason, _ in rejected:
            log.warning("rejected stream entry %s: %s", stream_id, reason)
        return result

    def ack(self, stream_ids: Sequence[bytes]) -> None:
        """Acknowledge and delete stored entries: the stream holds only unrouted events,
        so its length is the backlog that ``stream_max_length`` bounds."""
        pipe = self.redis.pipeline(transaction=False)
        pipe.xack(self.settings.stream, GROUP, *stream_ids)
        pipe.xdel(self.settings.stream, *stream_ids)
        pipe.execute()

    def dispatch(self, deliveries: list[tuple[int, int]]) -> None:
        if not deliveries:
            return
        try:
            self.dispatcher.dispatch(deliveries)
        except Exception:  # the scheduler re-dispatches after the grace period
            log.exception("dispatch failed; %d deliveries wait for the scheduler", len(deliveries))

    def persist_each(self, entries: Sequence[Entry]) -> BatchResult:
        """Store entries one by one, each in a savepoint; one Postgres refuses is rejected
        with Postgres's reason, so a single bad entry can never block the stream."""
        total = BatchResult()
        with self.engine.begin() as conn:
            for entry in entries:
                events, rejected = parse_entries([entry])
                try:
                    with conn.begin_nested():
                        total.add(self.persist(conn, events, rejected))
                except DBAPIError as exc:
                    if is_connection_error(exc):
                        raise
                    raw = (entry[1] or {}).get(STREAM_FIELD, b"")
                    reason = f"Postgres refused the event: {first_line(exc)}"
                    text = raw.decode("utf-8", "replace")[:MAX_REJECTED_RAW]
                    total.add(self.persist(conn, [], [(entry[0].decode(), reason, text)]))
                    log.warning("rejected stream entry %s: %s", entry[0].decode(), reason)
        return total

    def persist(
        self, conn: Connection, events: list[Event], rejected: list[tuple[str, str, str]]
    ) -> BatchResult:
        result = BatchResult(rejected=len(rejected))
        if rejected:
            conn.execute(
                sql.INSERT_REJECTED,
                {
                    "stream_ids": [r[0] for r in rejected],
                    "reasons": [pg_text(r[1]) for r in rejected],
                    "raws": [pg_text(r[2]) for r in rejected],
                },
            )
        if not events:
            return result
        duplicate_of = self._duplicates(conn, events)
        inserted = _insert_events(conn, events, duplicate_of)
        missing = [e for e in events if e.id not in inserted]
        if missing:
            existing = {
                str(row.id)
                for row in conn.execute(sql.EXISTING_EVENT_IDS, {"ids": [e.id for e in missing]})
            }
            # Not stored and not there before: another router stored the same
            # idempotency key first. Store these as duplicates of that event.
            raced = [e for e in missing if e.id not in existing]
            if raced:
                duplicate_of.update(self._duplicates(conn, raced))
                inserted |= _insert_events(conn, raced, duplicate_of)
            result.replayed = len(missing) - len(raced)
        fresh = [e for e in events if e.id in inserted]
        result.events = len(fresh)
        result.duplicates = sum(1 for e in fresh if e.id in duplicate_of)
        event_ids: list[str] = []
        destination_ids: list[int] = []
        subscription_ids: list[int] = []
        for event in fresh:
            if event.id in duplicate_of:
                continue
            for planned in self.table.plan(event.name, event.org, event.env):
                event_ids.append(event.id)
                destination_ids.append(planned.destination_id)
                subscription_ids.append(planned.subscription_id)
        if event_ids:
            rows = conn.execute(
                sql.INSERT_DELIVERIES,
                {
                    "event_ids": event_ids,
                    "destination_ids": destination_ids,
                    "subscription_ids": subscription_ids,
                },
            )
            result.deliveries = [(row.id, row.destination_id) for row in rows]
        return result

    @staticmethod
    def _duplicates(conn: Connection, events: list[Event]) -> dict[str, str]:
        """Map event id → id of the earlier event with the same (org, idempotency key)."""
        keyed = [e for e in events if e.idempotency_key]
        if not keyed:
            return {}
        originals: dict[tuple[str, str], str] = {
            (row.org, row.idempotency_key): str(row.id)
            for row in conn.execute(
                sql.EXISTING_IDEMPOTENCY_KEYS,
                {"keys": sorted({e.idempotency_key for e in keyed if e.idempotency_key})},
            )
        }
        duplicates: dict[str, str] = {}
        for event in keyed:
            key = (event.org, event.idempotency_key or "")
            original = originals.setdefault(key, event.id)
            if original != event.id:
                duplicates[event.id] = original
        return duplicates

    def _leave_group(self) -> None:
        """Remove this consumer from the group if it holds no unacknowledged entries."""
        try:
            pending = self.redis.xpending_range(
                self.settings.stream, GROUP, min="-", max="+", count=1, consumername=self.consumer
            )
            if not pending:
                self.redis.xgroup_delconsumer(self.settings.stream, GROUP, self.consumer)
        except redis.RedisError:
            pass


def _insert_events(conn: Connection, events: list[Event], duplicate_of: dict[str, str]) -> set[str]:
    params: dict[str, list[Any]] = {
        "ids": [],
        "names": [],
        "orgs": [],
        "envs": [],
        "payloads": [],
        "keys": [],
        "duplicate_of": [],
        "published_at": [],
    }
    for event in events:
        params["ids"].append(event.id)
        params["names"].append(event.name)
        params["orgs"].append(event.org)
        params["envs"].append(event.env)
        params["payloads"].append(json.dumps(event.payload, separators=(",", ":")))
        params["keys"].append(event.idempotency_key)
        params["duplicate_of"].append(duplicate_of.get(event.id))
        params["published_at"].append(datetime.fromtimestamp(event.published_at, UTC))
    return {str(row.id) for row in conn.execute(sql.INSERT_EVENTS, params)}


def _entries(reply: Any) -> list[Entry]:
    if not reply:
        return []
    entries: list[Entry] = []
    for _stream, items in reply:
        entries.extend(items)
    return entries
