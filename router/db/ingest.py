"""What the router's store writes: events, planned deliveries, rejected entries, and the
system-event outbox it drains (``emit`` fills it, in the transaction that decided).

Bulk statements take a batch in one parameter: one round trip per batch, whatever its
size. The hot ones (events, deliveries) take the rows as one JSON text and unpack it with
``json_to_recordset`` (``router.db.records`` says why); the others take parallel arrays
and ``unnest`` them. Each is paired with the one function that builds its parameter from
typed rows, so its shape is written down in one place. ``CAST(:x AS type)`` is used
instead of ``::`` so SQLAlchemy's bind-parameter parsing stays unambiguous.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, text

from eventrouter.router.db.engine import pg_text
from eventrouter.router.db.records import array, document, integer, number, string
from eventrouter.router.events import Event, encode_payload

# Events are partitioned by week, and a unique index can only hold per partition, so two
# routers storing the same key at once on either side of a week's end would both succeed.
# A transaction-scoped advisory lock per key (taken in one order, so two batches never
# deadlock) makes the second wait for the first to commit; its lookup then finds it.
LOCK_IDEMPOTENCY_KEYS = text(
    """
    SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0)))
    FROM (SELECT DISTINCT k FROM unnest(CAST(:keys AS text[])) AS k ORDER BY k) AS keys
    """
)

# Originals already stored for idempotency keys seen in a batch.
EXISTING_IDEMPOTENCY_KEYS = text(
    """
    SELECT org, idempotency_key, id FROM events
    WHERE idempotency_key = ANY(CAST(:keys AS text[])) AND duplicate_of IS NULL
    """
)

# A replayed stream entry carries an id that already exists: DO NOTHING makes it a no-op,
# and RETURNING tells which events are new (only those get deliveries). Publish times
# travel as epoch seconds and become timestamps here, not one datetime object per event.
INSERT_EVENTS = text(
    """
    INSERT INTO events (id, name, org, env, payload, idempotency_key, duplicate_of, published_at)
    SELECT id, name, org, env, payload, key, duplicate_of, to_timestamp(published_at)
    FROM json_to_recordset(CAST(:events AS json)) AS v(
        id uuid, name text, org text, env text, payload jsonb, key text, duplicate_of uuid,
        published_at float8)
    ON CONFLICT DO NOTHING
    RETURNING CAST(id AS text) AS id
    """
)
EXISTING_EVENT_IDS = text(
    "SELECT CAST(id AS text) AS id FROM events WHERE id = ANY(CAST(:ids AS uuid[]))"
)

# A delivery's id carries the day its event was published (migration 0010), so it lies
# in the event's week, where (event_id, destination_id) is unique: a replayed event
# conflicts with its first deliveries and DO NOTHING skips them.
# The routing table may be up to one config refresh old: a destination or subscription
# removed since then is skipped here, instead of failing the batch on its foreign key
# (which turned every event of the batch planned for it into a rejected entry).
# Deliveries go out at once after the commit (dispatched_at = now()) unless the broker
# is known to be down; then they are left for the scheduler to dispatch when it is back.
# An event's own deliveries are unique per (event, destination, person) among rows without
# a digest (migrations 0006, 0012), in each week's partition (0010): a conflict target
# cannot name an index that exists per partition only, so DO NOTHING takes any unique index.
INSERT_DELIVERIES = text(
    """
    INSERT INTO deliveries (id, event_id, destination_id, subscription_id, dispatched_at, notice,
                            user_id, recipient, address)
    SELECT eventrouter_delivery_id(COALESCE(to_timestamp(t.published_at), now())), t.event_id,
           t.destination_id, t.subscription_id,
           CASE WHEN CAST(:dispatching AS boolean) THEN now() END, t.notice, t.user_id,
           t.recipient, t.address
    FROM json_to_recordset(CAST(:deliveries AS json)) AS t(
        event_id uuid, destination_id int, subscription_id int, notice jsonb,
        published_at float8, user_id bigint, recipient text, address text)
    WHERE EXISTS (SELECT 1 FROM destinations WHERE id = t.destination_id)
      AND EXISTS (SELECT 1 FROM subscriptions WHERE id = t.subscription_id)
    ON CONFLICT DO NOTHING
    RETURNING id, destination_id
    """
)

INSERT_REJECTED = text(
    """
    INSERT INTO rejected_events (stream_id, reason, raw)
    SELECT * FROM unnest(CAST(:stream_ids AS text[]), CAST(:reasons AS text[]),
                         CAST(:raws AS text[]))
    """
)

# The outbox of system events; each row is taken by exactly one router (SKIP LOCKED) and
# turned into an event in the same transaction that deletes it.
TAKE_SYSTEM_EVENTS = text(
    """
    DELETE FROM system_events
    WHERE id IN (SELECT id FROM system_events ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED)
    RETURNING id, org, env, name, payload, created_at
    """
)
EMIT = text(
    """
    INSERT INTO system_events (org, env, name, payload)
    VALUES (:org, :env, :name, CAST(:payload AS jsonb))
    """
)


class PlannedRow(NamedTuple):
    """One delivery the routing table planned for a stored event."""

    event_id: str
    destination_id: int
    subscription_id: int
    notice: str | None = None
    """JSON of what the receiver is told besides the event (rules: firing/resolved…)."""
    user_id: int | None = None
    """A person's delivery (``subscriptions --users``): to ``address`` through the org's
    destination for the medium, named ``recipient`` (``user:<email>/<medium>``)."""
    recipient: str | None = None
    address: str | None = None


class Rejection(NamedTuple):
    """A stream entry that is not an event: its id, why, and (a bounded excerpt of) it."""

    stream_id: str
    reason: str
    raw: str


class SystemEventRow(NamedTuple):
    org: str
    env: str | None
    name: str
    payload: dict[str, Any]
    created_at: datetime


def originals_of(conn: Connection, keys: Sequence[str]) -> dict[tuple[str, str], str]:
    """``(org, idempotency_key) → event id`` of the stored originals among ``keys``; the
    keys stay locked until the transaction ends, so no other router stores one meanwhile."""
    conn.execute(LOCK_IDEMPOTENCY_KEYS, {"keys": list(keys)})
    rows = conn.execute(EXISTING_IDEMPOTENCY_KEYS, {"keys": list(keys)})
    return {(row.org, row.idempotency_key): str(row.id) for row in rows}


def insert_events(
    conn: Connection, events: Sequence[Event], duplicate_of: Mapping[str, str]
) -> set[str]:
    """Store ``events`` (those in ``duplicate_of`` as duplicates of the event it names);
    return the ids that were new. A payload the router validated is stored as the text
    that validation produced; it is not encoded again."""
    if not events:
        return set()
    batch = array(
        f'{{"id":{string(e.id)},"name":{string(e.name)},"org":{string(e.org)},'
        f'"env":{string(e.env)},"key":{string(e.idempotency_key)},'
        f'"duplicate_of":{string(duplicate_of.get(e.id))},'
        f'"published_at":{number(e.published_at)},'
        f'"payload":{document(e.payload_json or encode_payload(e.payload))}}}'
        for e in events
    )
    return {row.id for row in conn.execute(INSERT_EVENTS, {"events": batch})}


def existing_event_ids(conn: Connection, ids: Sequence[str]) -> set[str]:
    return {row.id for row in conn.execute(EXISTING_EVENT_IDS, {"ids": list(ids)})}


def insert_deliveries(
    conn: Connection,
    rows: Sequence[PlannedRow],
    published_at: Mapping[str, float],
    *,
    dispatching: bool = True,
) -> list[tuple[int, int]]:
    """Store planned deliveries, each in the week of its event (``published_at``: event
    id → publish time); return ``(delivery_id, destination_id)`` of the new ones."""
    if not rows:
        return []
    batch = array(
        f'{{"event_id":{string(r.event_id)},"destination_id":{integer(r.destination_id)},'
        f'"subscription_id":{integer(r.subscription_id)},'
        f'"published_at":{number(published_at.get(r.event_id))},"notice":{document(r.notice)},'
        f'"user_id":{integer(r.user_id)},"recipient":{string(r.recipient)},'
        f'"address":{string(r.address)}}}'
        for r in rows
    )
    result = conn.execute(INSERT_DELIVERIES, {"deliveries": batch, "dispatching": dispatching})
    return [(row.id, row.destination_id) for row in result]


def insert_rejected(conn: Connection, rows: Sequence[Rejection]) -> None:
    """Record entries that are not events; their text is made storable, never refused."""
    if not rows:
        return
    conn.execute(
        INSERT_REJECTED,
        {
            "stream_ids": [r.stream_id for r in rows],
            "reasons": [pg_text(r.reason) for r in rows],
            "raws": [pg_text(r.raw) for r in rows],
        },
    )


def take_system_events(conn: Connection, limit: int) -> list[SystemEventRow]:
    """Delete and return up to ``limit`` outbox rows, oldest first; commit with their events."""
    rows = conn.execute(TAKE_SYSTEM_EVENTS, {"limit": limit})
    return [SystemEventRow(r.org, r.env, r.name, r.payload, r.created_at) for r in rows]


def emit(conn: Connection, org: str, env: str | None, name: str, payload: dict[str, Any]) -> None:
    """Queue an event for the routers (the outbox they drain), in the caller's transaction."""
    conn.execute(EMIT, {"org": org, "env": env, "name": name, "payload": json.dumps(payload)})
