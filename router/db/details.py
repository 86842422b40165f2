"""One event in full and one delivery in full, each in one round trip that reads one week.

The history is partitioned by week (migration 0010): an event by its publish time, a
delivery and its attempts by the delivery id, which carries its event's publish day (or,
for a digest's delivery, the day it was released). An id names its week, so the statements
name that week's range and Postgres reads one partition of each table instead of probing
every week's. The event, its deliveries with their attempts, and its decisions come back as
one row (JSON aggregates), so a page costs one round trip, not four.

An event id is a hint only: a producer may state a publish time of its own, and a non-v7
id names no week. When the event is not in the week its id names, one lookup over every
week finds its publish time, and the same statement runs for that week.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from eventrouter.router.models.history import DeliveryDetail, EventDetail
from eventrouter.router.retention import (
    DELIVERY_ID_DAY_SHIFT,
    day_of_time,
    week_bounds,
    week_of_delivery_id,
    week_of_event_id,
    week_start,
)

# The attempts of one delivery as a JSON array, in the order they were made; the delivery
# id is the partition key of delivery_attempts, so each delivery reads one partition.
_ATTEMPTS_OF = """
    COALESCE((SELECT json_agg(json_build_object(
                  'attempt_number', a.attempt_number, 'started_at', a.started_at,
                  'duration_ms', a.duration_ms, 'outcome', a.outcome,
                  'http_status', a.http_status, 'error', a.error,
                  'response_body', a.response_body) ORDER BY a.attempt_number, a.id)
              FROM delivery_attempts a WHERE a.delivery_id = {delivery}), '[]')
"""
# The event (found in the week's partition, else no row), then its deliveries with their
# attempts and its decisions. Its deliveries lie in the delivery ids of its week, except a
# digest's, which carries the day it was released (and names the digest's last event): the
# other weeks are read only when one of the event's decisions names a digest (a one-time
# filter on the second branch). Removed subscriptions keep their decisions (no
# foreign key): the name is then NULL.
_SHOW_EVENT = text(
    f"""
    WITH ev AS (
        SELECT id, name, org, env, payload, idempotency_key, duplicate_of, published_at,
               received_at
        FROM events
        WHERE id = CAST(:id AS uuid) AND org = :org
          AND published_at >= :week_at AND published_at < :next_week_at
    ), ds AS (
        SELECT d.* FROM deliveries d
        WHERE d.event_id = CAST(:id AS uuid) AND d.id >= :lo AND d.id < :hi
          AND EXISTS (SELECT FROM ev)
        UNION ALL
        SELECT d.* FROM deliveries d
        WHERE d.event_id = CAST(:id AS uuid)
          AND NOT (d.id >= :lo AND d.id < :hi) AND EXISTS (SELECT FROM ev)
          AND EXISTS (SELECT FROM decisions
                      WHERE event_id = CAST(:id AS uuid) AND digest_id IS NOT NULL)
    )
    SELECT CAST(ev.id AS text) AS id, ev.name, ev.org, ev.env, ev.payload,
           ev.idempotency_key, CAST(ev.duplicate_of AS text) AS duplicate_of,
           ev.published_at, ev.received_at,
           COALESCE((
               SELECT json_agg(json_build_object(
                          'id', d.id, 'status', d.status, 'attempt_count', d.attempt_count,
                          'next_attempt_at', d.next_attempt_at, 'last_error', d.last_error,
                          'created_at', d.created_at, 'updated_at', d.updated_at,
                          'destination', COALESCE(d.recipient, dest.name),
                          'type', dest.kind, 'subscription', s.name,
                          'attempts', {_ATTEMPTS_OF.format(delivery="d.id")}) ORDER BY d.id)
               FROM (SELECT DISTINCT ON (id) * FROM ds ORDER BY id) d
               LEFT JOIN destinations dest ON dest.id = d.destination_id
               LEFT JOIN subscriptions s ON s.id = d.subscription_id), '[]') AS deliveries,
           COALESCE((
               SELECT json_agg(json_build_object(
                          'subscription_id', dc.subscription_id, 'subscription', s.name,
                          'recipient', dc.recipient, 'decision', dc.decision,
                          'reason', dc.reason, 'until', dc.until, 'digest_id', dc.digest_id,
                          'silence_id', dc.silence_id,
                          'digest_deliveries', COALESCE(
                              (SELECT json_agg(d.id ORDER BY d.id) FROM deliveries d
                               WHERE dc.digest_id IS NOT NULL AND d.digest_id = dc.digest_id),
                              '[]'))
                      ORDER BY dc.subscription_id, dc.recipient NULLS FIRST)
               FROM decisions dc
               LEFT JOIN subscriptions s ON s.id = dc.subscription_id
               WHERE dc.event_id = ev.id), '[]') AS decisions
    FROM ev
    """
)
# Where the event is when its id names no week, or the wrong one: every week's partition
# is probed (by its primary key), once.
_EVENT_PUBLISHED_AT = text(
    "SELECT published_at FROM events WHERE id = CAST(:id AS uuid) AND org = :org"
)
# The delivery and its attempts from the partitions of the week its id names; its event
# from the same week, else (a digest's delivery, released in a later week than its event
# was published) from any: LIMIT 1 stops before the second branch when the first found it.
_SHOW_DELIVERY = text(
    f"""
    SELECT d.id, CAST(d.event_id AS text) AS event_id, e.name AS event, e.env, d.status,
           d.attempt_count, d.next_attempt_at, d.last_error, d.created_at, d.updated_at,
           COALESCE(d.recipient, dest.name) AS destination, dest.kind AS type,
           s.name AS subscription, {_ATTEMPTS_OF.format(delivery="d.id")} AS attempts
    FROM deliveries d
    CROSS JOIN LATERAL (
        (SELECT name, env FROM events
         WHERE id = d.event_id AND org = :org
           AND published_at >= :week_at AND published_at < :next_week_at)
        UNION ALL
        (SELECT name, env FROM events
         WHERE id = d.event_id AND org = :org
           AND NOT (published_at >= :week_at AND published_at < :next_week_at))
        LIMIT 1
    ) e
    LEFT JOIN destinations dest ON dest.id = d.destination_id
    LEFT JOIN subscriptions s ON s.id = d.subscription_id
    WHERE d.id = :id
    """
)


def _week_params(week: int) -> dict[str, Any]:
    week_at, next_week_at = week_bounds(week)
    return {
        "week_at": week_at,
        "next_week_at": next_week_at,
        "lo": week << DELIVERY_ID_DAY_SHIFT,
        "hi": (week + 7) << DELIVERY_ID_DAY_SHIFT,
    }


def _event_in_week(conn: Connection, org: str, event_id: str, week: int) -> Any:
    params = {"id": event_id, "org": org, **_week_params(week)}
    return conn.execute(_SHOW_EVENT, params).one_or_none()


def _week_of(published_at: datetime) -> int:
    return week_start(day_of_time(published_at.timestamp()))


def event_detail(conn: Connection, org: str, event_id: str) -> EventDetail | None:
    """One event of ``org`` with every delivery, every attempt and every decision."""
    week = week_of_event_id(event_id)
    row = _event_in_week(conn, org, event_id, week) if week is not None else None
    if row is None:
        published_at = conn.execute(
            _EVENT_PUBLISHED_AT, {"id": event_id, "org": org}
        ).scalar_one_or_none()
        if published_at is None or _week_of(published_at) == week:
            return None
        row = _event_in_week(conn, org, event_id, _week_of(published_at))
        if row is None:
            return None
    return EventDetail.model_validate(row._mapping)


def delivery_detail(conn: Connection, org: str, delivery_id: int) -> DeliveryDetail | None:
    """One delivery of ``org`` with every attempt; ``None`` when there is none."""
    week = week_of_delivery_id(delivery_id)
    if week is None:
        return None
    params = {"id": delivery_id, "org": org, **_week_params(week)}
    row = conn.execute(_SHOW_DELIVERY, params).one_or_none()
    return None if row is None else DeliveryDetail.model_validate(row._mapping)
