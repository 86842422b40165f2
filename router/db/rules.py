"""What the router writes for rules: decisions, the state of keys, open digests.

All set-based: one statement per batch for each, whatever its size. State rows are
locked in (subscription, key) order, so two routers that meet on keys queue instead of
deadlocking, and never both see "not firing" for one transition.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Connection, text

from eventrouter.router.db.engine import pg_text
from eventrouter.router.db.records import array, integer, string
from eventrouter.router.rules.engine import KeyState

# Make sure every key has a row, then lock them all in one order. The INSERT's own
# ordering matters too: two routers inserting the same new keys take them in one order.
ENSURE_STATE = text(
    """
    INSERT INTO rule_state (subscription_id, key)
    SELECT s, k FROM unnest(CAST(:subs AS int[]), CAST(:keys AS text[])) AS v(s, k)
    WHERE EXISTS (SELECT 1 FROM subscriptions WHERE id = v.s)  -- removed since the table
    ORDER BY s, k
    ON CONFLICT DO NOTHING
    """
)
LOCK_STATE = text(
    """
    SELECT r.subscription_id, r.key, r.firing, r.streak, r.notified_at, r.throttled,
           r.group_until
    FROM rule_state r
    JOIN unnest(CAST(:subs AS int[]), CAST(:keys AS text[])) AS v(s, k)
      ON r.subscription_id = v.s AND r.key = v.k
    ORDER BY r.subscription_id, r.key
    FOR UPDATE OF r
    """
)
SAVE_STATE = text(
    """
    UPDATE rule_state r
    SET firing = v.f, streak = v.st, notified_at = v.n, throttled = v.t, group_until = v.g,
        updated_at = now()
    FROM unnest(CAST(:subs AS int[]), CAST(:keys AS text[]), CAST(:firing AS boolean[]),
                CAST(:streaks AS int[]), CAST(:notified AS timestamptz[]),
                CAST(:throttled AS int[]), CAST(:group_until AS timestamptz[]))
         AS v(s, k, f, st, n, t, g)
    WHERE r.subscription_id = v.s AND r.key = v.k
    """
)

# Join the open digest of (subscription, kind, key) or open one. A digest the scheduler
# released meanwhile is out of the partial unique index, so a new one opens instead of
# an event joining a digest that was already sent. The release time is the first
# event's: later events do not push it back (Alertmanager's group_wait).
UPSERT_DIGESTS = text(
    """
    INSERT INTO digests (subscription_id, kind, key, release_at, first_at, last_at, count,
                         last_event_id, user_id, destination_id, recipient, address)
    SELECT * FROM unnest(CAST(:subs AS int[]), CAST(:kinds AS text[]), CAST(:keys AS text[]),
                         CAST(:release_at AS timestamptz[]), CAST(:first_at AS timestamptz[]),
                         CAST(:last_at AS timestamptz[]), CAST(:counts AS int[]),
                         CAST(:last_events AS uuid[]), CAST(:user_ids AS bigint[]),
                         CAST(:destination_ids AS int[]), CAST(:recipients AS text[]),
                         CAST(:addresses AS text[]))
                 AS v(s, k, y, r, f, l, c, e, u, d, rc, a)
    WHERE EXISTS (SELECT 1 FROM subscriptions WHERE id = v.s)  -- removed since the table
    ON CONFLICT (subscription_id, kind, key) WHERE released_at IS NULL DO UPDATE
    SET count = digests.count + excluded.count,
        last_at = greatest(digests.last_at, excluded.last_at),
        last_event_id = CASE WHEN excluded.last_at >= digests.last_at
                             THEN excluded.last_event_id ELSE digests.last_event_id END
    RETURNING id, subscription_id, kind, key
    """
)

# A replayed event is not new, so it never reaches here; DO NOTHING is for the rare
# second routing of one event (a system event stored twice cannot happen, but a
# decision is a record, never a reason to fail the batch).
INSERT_DECISIONS = text(
    """
    INSERT INTO decisions (event_id, subscription_id, decision, reason, digest_id,
                           silence_id, until, recipient)
    SELECT * FROM json_to_recordset(CAST(:decisions AS json)) AS v(
        event_id uuid, subscription_id int, decision text, reason text, digest_id bigint,
        silence_id bigint, until timestamptz, recipient text)
    ON CONFLICT DO NOTHING
    """
)


class DecisionRow(NamedTuple):
    event_id: str
    subscription_id: int
    decision: str
    reason: str = ""
    digest_id: int | None = None
    silence_id: int | None = None
    until: datetime | None = None
    recipient: str | None = None
    """A person's decision (``user:<email>/<medium>``); ``None``: the subscription's."""


class DigestRow(NamedTuple):
    """Events of one batch joining one digest (aggregated per target by the caller)."""

    subscription_id: int
    kind: str
    key: str
    release_at: datetime
    first_at: datetime
    last_at: datetime
    events: int
    last_event_id: str
    user_id: int | None = None
    """A person's hold or digest: released to ``address`` through ``destination_id`` only."""
    destination_id: int | None = None
    recipient: str | None = None
    address: str | None = None


def lock_states(
    conn: Connection, keys: Sequence[tuple[int, str]]
) -> dict[tuple[int, str], KeyState]:
    """The state of each (subscription, key), created if new, locked until commit."""
    if not keys:
        return {}
    ordered = sorted(set(keys))
    params = {"subs": [s for s, _ in ordered], "keys": [pg_text(k) for _, k in ordered]}
    conn.execute(ENSURE_STATE, params)
    return {
        (row.subscription_id, row.key): KeyState(
            row.firing, row.streak, row.notified_at, row.throttled, row.group_until
        )
        for row in conn.execute(LOCK_STATE, params)
    }


def save_states(conn: Connection, states: dict[tuple[int, str], KeyState]) -> None:
    if not states:
        return
    items = sorted(states.items())
    conn.execute(
        SAVE_STATE,
        {
            "subs": [s for (s, _), _ in items],
            "keys": [pg_text(k) for (_, k), _ in items],
            "firing": [st.firing for _, st in items],
            "streaks": [st.streak for _, st in items],
            "notified": [st.notified_at for _, st in items],
            "throttled": [st.throttled for _, st in items],
            "group_until": [st.group_until for _, st in items],
        },
    )


def upsert_digests(conn: Connection, rows: Sequence[DigestRow]) -> dict[tuple[int, str, str], int]:
    """Join or open digests; ``(subscription, kind, key) → digest id``."""
    if not rows:
        return {}
    result = conn.execute(
        UPSERT_DIGESTS,
        {
            "subs": [r.subscription_id for r in rows],
            "kinds": [r.kind for r in rows],
            "keys": [pg_text(r.key) for r in rows],
            "release_at": [r.release_at for r in rows],
            "first_at": [r.first_at for r in rows],
            "last_at": [r.last_at for r in rows],
            "counts": [r.events for r in rows],
            "last_events": [r.last_event_id for r in rows],
            "user_ids": [r.user_id for r in rows],
            "destination_ids": [r.destination_id for r in rows],
            "recipients": [r.recipient for r in rows],
            "addresses": [r.address for r in rows],
        },
    )
    return {(row.subscription_id, row.kind, row.key): int(row.id) for row in result}


def insert_decisions(conn: Connection, rows: Sequence[DecisionRow]) -> None:
    if not rows:
        return
    # One decision per (event, subscription) routed: the router's most numerous row, so
    # its batch travels as one JSON text (router.db.records).
    batch = array(
        f'{{"event_id":{string(r.event_id)},"subscription_id":{integer(r.subscription_id)},'
        f'"decision":{string(r.decision)},'
        f'"reason":{string(pg_text(r.reason) if r.reason else "")},'
        f'"digest_id":{integer(r.digest_id)},"silence_id":{integer(r.silence_id)},'
        f'"until":{string(None if r.until is None else r.until.isoformat())},'
        f'"recipient":{string(r.recipient)}}}'
        for r in rows
    )
    conn.execute(INSERT_DECISIONS, {"decisions": batch})


def notice_json(notice: dict[str, object] | None) -> str | None:
    return None if notice is None else json.dumps(notice, separators=(",", ":"))
