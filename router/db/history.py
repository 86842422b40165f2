"""The delivery log as the control plane reads it: events with their delivery counts, one
event in full, the deliveries across events, and putting failed deliveries back in line.

Lists are paged by keyset (the last row's sort key is the cursor), never by OFFSET: a page
costs the same however deep it is, and rows arriving meanwhile shift nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, text

from eventrouter.router.models.history import DeliveryLogEntry, EventSummary

# An event's counts from its deliveries (an index on deliveries.event_id).
_COUNTS = """
    CROSS JOIN LATERAL (
        SELECT count(*) AS total,
               count(*) FILTER (WHERE d.status = 'succeeded') AS succeeded,
               count(*) FILTER (WHERE d.status IN ('pending', 'delivering')) AS pending,
               count(*) FILTER (WHERE d.status = 'failed') AS failed,
               count(*) FILTER (WHERE d.status = 'cancelled') AS cancelled
        FROM deliveries d WHERE d.event_id = {event}
    ) c
"""
_STATUS = """
    (CAST(:status AS text) IS NULL
     OR (:status = 'pending' AND c.pending > 0)
     OR (:status = 'succeeded' AND c.succeeded > 0)
     OR (:status = 'failed' AND c.failed > 0)
     OR (:status = 'cancelled' AND c.cancelled > 0))
"""
# Newest events first; cursor: the (received_at, id) of the last row of the previous page.
_PAGE = """
    SELECT CAST(e.id AS text) AS id, e.id AS uuid, e.name, e.org, e.env, e.received_at,
           CAST(e.duplicate_of AS text) AS duplicate_of {columns}
    FROM events e {counts}
    WHERE e.org = :org AND {name} AND {status}
      AND NOT (:hide_system AND (e.is_test OR e.name = 'eventrouter:test'
                                 OR e.name IN (SELECT name FROM channels WHERE is_system)))
      AND (CAST(:env AS text) IS NULL OR e.env = CAST(:env AS text))
      AND (CAST(:since AS timestamptz) IS NULL OR e.received_at >= CAST(:since AS timestamptz))
      AND (CAST(:until AS timestamptz) IS NULL OR e.received_at < CAST(:until AS timestamptz))
      AND (CAST(:after_at AS timestamptz) IS NULL
           OR (e.received_at, e.id) < (CAST(:after_at AS timestamptz), CAST(:after_id AS uuid)))
    ORDER BY e.received_at DESC, e.id DESC
    LIMIT :limit
"""
_COUNTED = {"columns": ", c.*", "counts": _COUNTS.format(event="e.id"), "status": _STATUS}
_HISTORY = text(
    _PAGE.format(
        name="(CAST(:names AS text[]) IS NULL OR e.name = ANY(CAST(:names AS text[])))",
        **_COUNTED,
    )
)
# With a name filter (the org's names a pattern matched, in Python), each name's newest
# events come from the (org, name, received_at, id) index, at most a page of them each, and
# the newest of those make the page: a page reads names x page rows however rare the names
# are, where one scan in time order reads past every other name's events (and name =
# ANY(...) over several names gives no order: every matching event would be sorted). Only
# the page's rows are counted, unless a status filter needs the counts to choose them.
_PAGE_OF_NAMES = """
    SELECT p.* FROM unnest(CAST(:names AS text[])) AS n(name)
    CROSS JOIN LATERAL ({page}) p
    ORDER BY p.received_at DESC, p.uuid DESC
    LIMIT :limit
"""
_HISTORY_OF_NAMES = text(
    f"""
    SELECT p.*, c.* FROM ({
        _PAGE_OF_NAMES.format(
            page=_PAGE.format(name="e.name = n.name", columns="", counts="", status="true")
        )
    }) p {_COUNTS.format(event="p.uuid")}
    ORDER BY p.received_at DESC, p.uuid DESC
    """
)
_HISTORY_OF_NAMES_WITH_STATUS = text(
    _PAGE_OF_NAMES.format(page=_PAGE.format(name="e.name = n.name", **_COUNTED))
)
_MOST_NAMES_BY_INDEX = 10
"""Above this many names, one scan in time order reads less than a page per name would: a
pattern that matches that many names matches most events."""
# Every distinct name of the org's events, one index probe each (a loose index scan over
# events_org_name), so matching a pattern costs the number of names, not of events.
_EVENT_NAMES = text(
    """
    WITH RECURSIVE n AS (
        SELECT min(name) AS name FROM events WHERE org = :org
        UNION ALL
        SELECT (SELECT min(name) FROM events WHERE org = :org AND name > n.name)
        FROM n WHERE n.name IS NOT NULL
    )
    SELECT name FROM n WHERE name IS NOT NULL
    """
)
# A prefix as a range of the primary key: "01a2" is 01a20000-… to 01a2ffff-….
_EVENT_IDS_WITH_PREFIX = text(
    """
    SELECT CAST(id AS text) AS id FROM events
    WHERE org = :org AND id BETWEEN CAST(:low AS uuid) AND CAST(:high AS uuid)
    ORDER BY id LIMIT :limit
    """
)
# Newest activity first (a retried old delivery comes back to the top), keyset-paged by
# (updated_at, id); a final delivery has no next attempt, whatever the column still holds.
_LIST_DELIVERIES = text(
    """
    SELECT d.id, CAST(d.event_id AS text) AS event_id, e.name AS event, e.env,
           COALESCE(d.recipient, dest.name) AS destination, d.status, d.attempt_count,
           CASE WHEN d.status IN ('pending', 'delivering') THEN d.next_attempt_at END
               AS next_attempt_at,
           d.last_error, d.updated_at
    FROM deliveries d
    JOIN events e ON e.id = d.event_id
    LEFT JOIN destinations dest ON dest.id = d.destination_id
    WHERE e.org = :org
      AND (:show_tests OR NOT e.is_test)
      AND (CAST(:status AS text) IS NULL OR d.status = CAST(:status AS text))
      AND (CAST(:destination_id AS int) IS NULL
           OR d.destination_id = CAST(:destination_id AS int))
      AND (CAST(:event_name AS text) IS NULL OR e.name = CAST(:event_name AS text))
      AND (CAST(:since AS timestamptz) IS NULL OR d.updated_at >= CAST(:since AS timestamptz))
      AND (CAST(:before_at AS timestamptz) IS NULL
           OR (d.updated_at, d.id) < (CAST(:before_at AS timestamptz), CAST(:before_id AS bigint)))
    ORDER BY d.updated_at DESC, d.id DESC
    LIMIT :limit
    """
)
# Only failed or cancelled deliveries of the caller's org that still have a destination go
# back in line; the scheduler dispatches them at its next tick. ``--failed`` leaves test
# notifications alone (a test is a probe: run it again instead).
_RETRY_BY_ID = text(
    """
    UPDATE deliveries d
    SET status = 'pending', next_attempt_at = now(), dispatched_at = NULL,
        lease_expires_at = NULL, updated_at = now()
    FROM events e
    WHERE e.id = d.event_id AND e.org = :org AND d.id = ANY(CAST(:ids AS bigint[]))
      AND d.status IN ('failed', 'cancelled') AND d.destination_id IS NOT NULL
    RETURNING d.id
    """
)
_RETRY_FAILED = text(
    """
    UPDATE deliveries d
    SET status = 'pending', next_attempt_at = now(), dispatched_at = NULL,
        lease_expires_at = NULL, updated_at = now()
    FROM events e
    WHERE e.id = d.event_id AND e.org = :org AND NOT e.is_test
      AND d.status IN ('failed', 'cancelled') AND d.destination_id IS NOT NULL
      AND (CAST(:status AS text) IS NULL OR d.status = CAST(:status AS text))
      AND (CAST(:destination_id AS int) IS NULL
           OR d.destination_id = CAST(:destination_id AS int))
      AND (CAST(:since AS double precision) IS NULL
           OR d.updated_at >= now() - make_interval(secs => CAST(:since AS double precision)))
    RETURNING d.id
    """
)
_DELIVERY_STATES = text(
    """
    SELECT d.id, d.status, d.destination_id IS NULL AS orphan
    FROM deliveries d JOIN events e ON e.id = d.event_id
    WHERE e.org = :org AND d.id = ANY(CAST(:ids AS bigint[]))
    """
)
_EVENT_DELIVERY_IDS = text(
    """
    SELECT d.id FROM deliveries d JOIN events e ON e.id = d.event_id
    WHERE e.org = :org AND e.id = CAST(:event_id AS uuid) ORDER BY d.id
    """
)
# Why ``retry --failed`` found nothing: the failed or cancelled deliveries it passed over.
_UNRETRYABLE = text(
    """
    SELECT count(*) FILTER (WHERE d.destination_id IS NULL) AS orphaned,
           count(*) FILTER (WHERE e.is_test AND d.destination_id IS NOT NULL) AS tests
    FROM deliveries d JOIN events e ON e.id = d.event_id
    WHERE e.org = :org AND d.status IN ('failed', 'cancelled')
      AND (CAST(:since AS double precision) IS NULL
           OR d.updated_at >= now() - make_interval(secs => CAST(:since AS double precision)))
    """
)


def history(
    conn: Connection,
    org: str,
    *,
    limit: int,
    names: Sequence[str] | None = None,
    hide_system: bool = False,
    env: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    after: tuple[datetime, str] | None = None,
) -> list[EventSummary]:
    """Events newest first with their delivery counts; ``after``: the last row seen;
    ``names``: only these; ``hide_system``: without system events and test notifications."""
    by_name = names is not None and len(names) <= _MOST_NAMES_BY_INDEX
    params = {
        "org": org,
        "limit": limit,
        "names": None if names is None else list(names),
        "hide_system": hide_system,
        "env": env,
        "status": status,
        "since": since,
        "until": until,
        "after_at": after[0] if after else None,
        "after_id": after[1] if after else None,
    }
    statement = _HISTORY
    if by_name:
        statement = _HISTORY_OF_NAMES if status is None else _HISTORY_OF_NAMES_WITH_STATUS
    return [EventSummary.model_validate(row._mapping) for row in conn.execute(statement, params)]


def event_names(conn: Connection, org: str) -> list[str]:
    """The distinct names of ``org``'s events."""
    return [row.name for row in conn.execute(_EVENT_NAMES, {"org": org})]


def event_ids_with_prefix(conn: Connection, org: str, prefix: str, *, limit: int) -> list[str]:
    """Ids of ``org``'s events starting with ``prefix`` (hex digits, no dashes)."""
    low, high = prefix.ljust(32, "0"), prefix.ljust(32, "f")
    params = {"org": org, "low": low, "high": high, "limit": limit}
    return [row.id for row in conn.execute(_EVENT_IDS_WITH_PREFIX, params)]


def deliveries(
    conn: Connection,
    org: str,
    *,
    limit: int,
    status: str | None = None,
    destination_id: int | None = None,
    event_name: str | None = None,
    since: datetime | None = None,
    before: tuple[datetime, int] | None = None,
    show_tests: bool = False,
) -> list[DeliveryLogEntry]:
    """Deliveries, latest change first; ``before``: ``(updated_at, id)`` of the last row of
    the previous page; test notifications only with ``show_tests``."""
    params = {
        "org": org,
        "limit": limit,
        "status": status,
        "destination_id": destination_id,
        "event_name": event_name,
        "since": since,
        "before_at": before[0] if before else None,
        "before_id": before[1] if before else None,
        "show_tests": show_tests,
    }
    return [
        DeliveryLogEntry.model_validate(row._mapping)
        for row in conn.execute(_LIST_DELIVERIES, params)
    ]


def delivery_states(conn: Connection, org: str, ids: Sequence[int]) -> dict[int, tuple[str, bool]]:
    """``id → (status, whether its destination was removed)`` of ``org``'s deliveries."""
    rows = conn.execute(_DELIVERY_STATES, {"org": org, "ids": list(ids)})
    return {row.id: (row.status, row.orphan) for row in rows}


def event_delivery_ids(conn: Connection, org: str, event_id: str) -> list[int]:
    return [row.id for row in conn.execute(_EVENT_DELIVERY_IDS, {"org": org, "event_id": event_id})]


def unretryable(conn: Connection, org: str, since_seconds: float | None) -> tuple[int, int]:
    """``(whose destination was removed, test notifications)`` among failed or cancelled."""
    row = conn.execute(_UNRETRYABLE, {"org": org, "since": since_seconds}).one()
    return int(row.orphaned), int(row.tests)


def retry_by_id(conn: Connection, org: str, ids: Sequence[int]) -> list[int]:
    """Failed or cancelled deliveries among ``ids`` put back to ``pending``."""
    rows = conn.execute(_RETRY_BY_ID, {"org": org, "ids": list(ids)})
    return sorted(row.id for row in rows)


def retry_failed(
    conn: Connection,
    org: str,
    *,
    destination_id: int | None,
    since_seconds: float | None,
    status: str | None = None,
) -> list[int]:
    """Every failed or cancelled delivery of ``org`` (filtered) put back to ``pending``."""
    params = {
        "org": org,
        "destination_id": destination_id,
        "since": since_seconds,
        "status": status,
    }
    return sorted(row.id for row in conn.execute(_RETRY_FAILED, params))
