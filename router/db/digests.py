"""Releasing digests: groups whose wait is over and quiet-hours holds whose window ended
become one delivery per destination of their subscription; a person's hold or digest
(``user_id``) becomes one delivery to that person.

Lock order is the router's: a group's ``rule_state`` row first, then the digest. The
digest itself is taken with ``SKIP LOCKED``: one a router is joining right now is left
for the next tick instead of waited for, so a release never deadlocks with routing, and
several routers' schedulers never release one digest twice (and if they did, the unique
(digest_id, destination_id) would make the second a no-op).
"""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import Connection, text

MAX_LISTED = 100
"""Events listed in one digest; ``count`` stays exact beyond it."""

DUE = text(
    """
    SELECT id, subscription_id, kind, key FROM digests
    WHERE released_at IS NULL AND release_at <= now()
    ORDER BY release_at LIMIT :limit
    """
)
LOCK_GROUP_STATES = text(
    """
    SELECT r.subscription_id, r.key, r.throttled FROM rule_state r
    JOIN unnest(CAST(:subs AS int[]), CAST(:keys AS text[])) AS v(s, k)
      ON r.subscription_id = v.s AND r.key = v.k
    ORDER BY r.subscription_id, r.key
    FOR UPDATE OF r
    """
)
# Mark the digests released and plan their deliveries in one statement. The notice is
# what the receiver reads besides the latest event: the digest's key, exact count, time
# span and (at most MAX_LISTED, first published first) events. Undispatched: the tick's dispatch
# step right after sends them.
RELEASE = text(
    f"""
    WITH taken AS (
        SELECT id FROM digests
        WHERE id = ANY(CAST(:ids AS bigint[])) AND released_at IS NULL
        FOR UPDATE SKIP LOCKED
    ), released AS (
        UPDATE digests g SET released_at = now() FROM taken WHERE g.id = taken.id
        RETURNING g.id, g.subscription_id, g.kind, g.key, g.first_at, g.last_at,
                  g.count AS events, g.last_event_id, g.user_id, g.destination_id,
                  g.recipient, g.address
    ), throttled AS (
        SELECT * FROM unnest(CAST(:ids AS bigint[]), CAST(:throttled AS int[])) AS t(id, n)
    ), planned AS (
        INSERT INTO deliveries (event_id, destination_id, subscription_id, digest_id, notice,
                                user_id, recipient, address)
        SELECT r.last_event_id, target.destination_id, r.subscription_id, r.id,
               jsonb_strip_nulls(jsonb_build_object(
                   'id', 'digest-' || r.id,
                   'key', NULLIF(r.key, ''),
                   'throttled', NULLIF(t.n, 0),
                   CASE r.kind WHEN 'hold' THEN 'held' ELSE 'group' END,
                   jsonb_build_object(
                       'key', r.key, 'count', r.events, 'first_at', r.first_at,
                       'last_at', r.last_at,
                       'events', COALESCE((
                           SELECT jsonb_agg(jsonb_build_object(
                                      'id', m.id, 'name', m.name, 'payload', m.payload)
                                  ORDER BY m.published_at, m.id)
                           FROM (SELECT e.id, e.name, e.payload, e.published_at
                                 FROM decisions dc JOIN events e ON e.id = dc.event_id
                                 WHERE dc.digest_id = r.id
                                 ORDER BY e.published_at, e.id LIMIT {MAX_LISTED}) m), '[]')))),
               r.user_id, r.recipient, r.address
        FROM released r
        -- A subscription's digest goes to its destinations; a person's to that person
        -- alone, unless they were removed meanwhile.
        JOIN LATERAL (
            SELECT sd.destination_id FROM subscription_destinations sd
            WHERE sd.subscription_id = r.subscription_id AND r.user_id IS NULL
            UNION ALL
            SELECT r.destination_id
            WHERE r.user_id IS NOT NULL AND EXISTS (SELECT 1 FROM users u WHERE u.id = r.user_id)
        ) target ON true
        JOIN destinations d ON d.id = target.destination_id AND d.enabled
        LEFT JOIN throttled t ON t.id = r.id
        -- (digest_id, destination_id) is unique in each week's partition (migration 0010);
        -- a conflict target cannot name a per-partition index: DO NOTHING takes any.
        ON CONFLICT DO NOTHING
        RETURNING id
    )
    SELECT r.id, r.subscription_id, r.kind, r.key, r.events,
           (SELECT count(*) FROM planned) AS deliveries
    FROM released r
    """
)
# A released group closes the key's window and starts its repeat interval.
CLOSE_GROUPS = text(
    """
    UPDATE rule_state r SET group_until = NULL, notified_at = now(), throttled = 0,
                            updated_at = now()
    FROM unnest(CAST(:subs AS int[]), CAST(:keys AS text[])) AS v(s, k)
    WHERE r.subscription_id = v.s AND r.key = v.k
    """
)


class Released(NamedTuple):
    id: int
    subscription_id: int
    kind: str
    key: str
    events: int


def release_due(conn: Connection, limit: int) -> tuple[list[Released], int]:
    """Release due digests; return them and how many deliveries they made."""
    due = list(conn.execute(DUE, {"limit": limit}))
    if not due:
        return [], 0
    groups = sorted({(d.subscription_id, d.key) for d in due if d.kind == "group"})
    throttled_by_key: dict[tuple[int, str], int] = {}
    if groups:
        params = {"subs": [s for s, _ in groups], "keys": [k for _, k in groups]}
        for row in conn.execute(LOCK_GROUP_STATES, params):
            throttled_by_key[(row.subscription_id, row.key)] = row.throttled
    throttled = [
        throttled_by_key.get((d.subscription_id, d.key), 0) if d.kind == "group" else 0 for d in due
    ]
    rows = list(conn.execute(RELEASE, {"ids": [d.id for d in due], "throttled": throttled}))
    closed = sorted({(r.subscription_id, r.key) for r in rows if r.kind == "group"})
    if closed:
        conn.execute(CLOSE_GROUPS, {"subs": [s for s, _ in closed], "keys": [k for _, k in closed]})
    released = [Released(r.id, r.subscription_id, r.kind, r.key, r.events) for r in rows]
    return released, int(rows[0].deliveries) if rows else 0


# Statement triggers bump the config version even when no row changes, so the UPDATE
# runs only when there is something to expire (or every router would reload every tick).
ANY_ENDED_SILENCE = text(
    "SELECT EXISTS (SELECT 1 FROM silences WHERE expired_at IS NULL AND ends_at <= now())"
)
EXPIRE_SILENCES = text(
    """
    UPDATE silences SET expired_at = ends_at WHERE expired_at IS NULL AND ends_at <= now()
    RETURNING id
    """
)


def expire_silences(conn: Connection) -> list[int]:
    """Mark silences whose end has passed; routers then drop them from their table. (They
    already stopped matching at ``ends_at``: the router checks the time itself.)"""
    if not conn.execute(ANY_ENDED_SILENCE).scalar():
        return []
    return [int(row.id) for row in conn.execute(EXPIRE_SILENCES)]
