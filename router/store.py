"""The router's store: stream entries become events, planned deliveries and rejections,
committed in one transaction.

Nothing in an entry can stop the stream: what cannot be read is a rejection, recorded
with its reason; and when Postgres refuses a batch for its content (not an outage) the
batch is stored again entry by entry, so the one it refuses is rejected alone. Event
ids are primary keys, so storing a replayed entry again is a no-op.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from eventrouter.router.db import approvals, ingest, is_connection_error
from eventrouter.router.db.approvals import ApprovalRow
from eventrouter.router.db.ingest import Rejection
from eventrouter.router.db.routing import config_version, load_routing_table
from eventrouter.router.errors import InvalidEvent, first_line
from eventrouter.router.events import STREAM_FIELD, Event, new_event_id, parse_envelope
from eventrouter.router.interactive import read_interactions
from eventrouter.router.partitions import PartitionKeeper
from eventrouter.router.routing import RoutingTable
from eventrouter.router.rules_store import apply_rules
from eventrouter.router.stream import Entry

log = logging.getLogger("eventrouter.router")
MAX_REJECTED_RAW = 4096
MAX_REJECTED_REASON = 1000
SYSTEM_EVENT_BATCH = 500


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


def parse_entries(entries: Sequence[Entry]) -> tuple[list[Event], list[Rejection]]:
    """Split stream entries into events and rejections.

    Nothing in an entry can make this raise: whatever cannot be read is a rejection.
    """
    events: list[Event] = []
    rejected: list[Rejection] = []
    seen: set[str] = set()
    for stream_id, fields in entries:
        entry_id = stream_id.decode()
        if not fields:  # XADD needs a field: no fields means the entry was deleted
            reason = "entry was deleted from the stream (XDEL/XTRIM) before a router stored it"
            rejected.append(Rejection(entry_id, reason, ""))
            continue
        raw = fields.get(STREAM_FIELD)
        if raw is None:
            keys = ", ".join(sorted(k.decode("utf-8", "replace") for k in fields))
            rejected.append(Rejection(entry_id, f"entry has no 'event' field (fields: {keys})", ""))
            continue
        try:
            event = parse_envelope(raw, received_at=_entry_time(entry_id))
        except Exception as exc:  # InvalidEvent, or anything else a hostile entry provokes
            reason = str(exc) if isinstance(exc, InvalidEvent) else _unreadable(exc)
            rejected.append(Rejection(entry_id, reason[:MAX_REJECTED_REASON], _excerpt(raw)))
            continue
        if event.id not in seen:
            seen.add(event.id)
            events.append(event)
    return events, rejected


def _entry_time(entry_id: str) -> float | None:
    """When Redis took an entry: the milliseconds in its id (``1733000000000-0``)."""
    millis = entry_id.partition("-")[0]
    return int(millis) / 1000 if millis.isdigit() else None


def _unreadable(exc: BaseException) -> str:
    return f"entry could not be read: {type(exc).__name__}: {exc}"


def _excerpt(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")[:MAX_REJECTED_RAW]


class EventStore:
    """Stores batches of entries and system events, planned with the current routing table."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.table = RoutingTable.empty()
        self.partitions = PartitionKeeper(engine)

    def refresh_routing_table(self) -> bool:
        """Reload the routing table if the config changed; return whether it did."""
        with self.engine.connect() as conn:
            if config_version(conn) == self.table.version:
                return False
            self.table = load_routing_table(conn)
        log.info("routing table loaded (config version %d)", self.table.version)
        for channel_id, reason in self.table.broken.items():
            log.error("channel %d matches nothing: %s", channel_id, reason)
        for silence_id, reason in self.table.broken_silences.items():
            log.error("silence %d mutes nothing: %s", silence_id, reason)
        return True

    def store(self, entries: Sequence[Entry], *, dispatching: bool = True) -> BatchResult:
        """Commit the batch's events, deliveries and rejections in one transaction; if
        Postgres refuses the batch for its content (not an outage), entry by entry.

        ``dispatching`` says whether the deliveries are about to be dispatched; if not,
        they are stored undispatched, for the scheduler.
        """
        events, rejected = parse_entries(entries)
        self.partitions.ensure_for(event.published_at for event in events)
        try:
            with self.engine.begin() as conn:
                result = self.persist(conn, events, rejected, dispatching=dispatching)
        except DBAPIError as exc:
            if is_connection_error(exc):
                raise
            log.warning("Postgres refused a batch (%s); storing it entry by entry", first_line(exc))
            return self._store_each(entries, dispatching)
        for rejection in rejected:
            log.warning("rejected stream entry %s: %s", rejection.stream_id, rejection.reason)
        return result

    def _store_each(self, entries: Sequence[Entry], dispatching: bool) -> BatchResult:
        """Store entries one by one, each in a savepoint; one Postgres refuses is rejected
        with Postgres's reason, so a single bad entry can never block the stream."""
        total = BatchResult()
        with self.engine.begin() as conn:
            for entry in entries:
                events, rejected = parse_entries([entry])
                try:
                    with conn.begin_nested():
                        total.add(self.persist(conn, events, rejected, dispatching=dispatching))
                except DBAPIError as exc:
                    if is_connection_error(exc):
                        raise
                    stream_id = entry[0].decode()
                    reason = f"Postgres refused the event: {first_line(exc)}"
                    raw = _excerpt((entry[1] or {}).get(STREAM_FIELD, b""))
                    total.add(self.persist(conn, [], [Rejection(stream_id, reason, raw)]))
                    log.warning("rejected stream entry %s: %s", stream_id, reason)
        return total

    def take_system_events(self, *, dispatching: bool = True) -> BatchResult:
        """Turn the outbox rows the database triggers wrote (``delivery:failed``,
        ``destination:disabled``) into events, routed like any other.

        They are stored directly, not sent through the stream: taking the outbox rows and
        storing the events is one transaction, so each is emitted exactly once.
        """
        with self.engine.begin() as conn:
            rows = ingest.take_system_events(conn, SYSTEM_EVENT_BATCH)
            if not rows:
                return BatchResult()
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
            return self.persist(conn, events, [], dispatching=dispatching)

    def persist(
        self,
        conn: Connection,
        events: Sequence[Event],
        rejected: Sequence[Rejection],
        *,
        dispatching: bool = True,
    ) -> BatchResult:
        """Write events, their planned deliveries and rejections on ``conn``."""
        result = BatchResult(rejected=len(rejected))
        ingest.insert_rejected(conn, rejected)
        if not events:
            return result
        duplicate_of, stored = _duplicates(conn, events)
        # An id already stored under its key: the key published again (ids of keyed events
        # derive from it) or its entry replayed. Its publish time may fall in another
        # week, where inserting would not conflict: it is not inserted.
        fresh = [e for e in events if e.id not in stored]
        inserted = ingest.insert_events(conn, fresh, duplicate_of)
        missing = [e for e in fresh if e.id not in inserted]
        if missing:
            existing = ingest.existing_event_ids(conn, [e.id for e in missing])
            # Not stored and not there before: another router stored the same
            # idempotency key first. Store these as duplicates of that event.
            raced = [e for e in missing if e.id not in existing]
            if raced:
                duplicate_of.update(_duplicates(conn, raced)[0])
                inserted |= ingest.insert_events(conn, raced, duplicate_of)
            result.replayed = len(missing) - len(raced)
        result.replayed += len(events) - len(fresh)
        routed: list[Event] = []
        requests: list[ApprovalRow] = []
        for event in events:
            if event.id not in inserted:
                continue
            result.events += 1
            if event.id in duplicate_of:
                result.duplicates += 1
                continue
            routed.append(event)
            if "approval" in event.payload:
                request = approval_row(event)
                if request is not None:
                    requests.append(request)
        ruled = apply_rules(conn, self.table, routed)
        published_at = {event.id: event.published_at for event in routed}
        result.deliveries = ingest.insert_deliveries(
            conn, ruled.planned, published_at, dispatching=dispatching
        )
        approvals.insert_approvals(conn, requests)
        return result


def approval_row(event: Event) -> ApprovalRow | None:
    """The approval request ``event`` carries; a malformed one (``publish()`` refuses those,
    but anything can be written to the stream) is ignored: the event is routed without it."""
    request = read_interactions(event.payload, strict=False).approval
    if request is None:
        log.warning("event %s has a malformed 'approval'; routed without it", event.id)
        return None
    return ApprovalRow(
        event.id,
        event.org,
        event.env,
        event.name,
        request.prompt,
        request.approvers,
        request.on_timeout.value,
        request.timeout_seconds,
    )


def _duplicates(conn: Connection, events: Sequence[Event]) -> tuple[dict[str, str], set[str]]:
    """Map event id → id of the earlier event with the same (org, idempotency key), and
    the ids among ``events`` already stored as the original of their key."""
    keyed = [e for e in events if e.idempotency_key]
    if not keyed:
        return {}, set()
    originals = ingest.originals_of(conn, sorted({e.idempotency_key or "" for e in keyed}))
    stored = {e.id for e in keyed if originals.get((e.org, e.idempotency_key or "")) == e.id}
    duplicates: dict[str, str] = {}
    for event in keyed:
        key = (event.org, event.idempotency_key or "")
        original = originals.setdefault(key, event.id)
        if original != event.id:
            duplicates[event.id] = original
    return duplicates, stored
