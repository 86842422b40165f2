"""The week partitions of the history (migration 0010): which weeks exist, creating weeks,
dropping a finished week, and trimming the default partitions.

A week is three partitions sharing a suffix, its Monday (``events_p20261130``,
``deliveries_p20261130``, ``delivery_attempts_p20261130``), created and dropped together,
so an event, its deliveries and their attempts always go at once. Weeks are passed
around as the day number of their Monday.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple

from psycopg.errors import LockNotAvailable
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from eventrouter.router.retention import day_of_suffix, suffix_of_day, week_start

_WEEKS = text(
    r"""
    SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'events'::regclass AND c.relname ~ '^events_p\d{8}$'
    """
)

# A DDL statement waits for every query on the table to finish, and everything queued
# behind it waits too: a bounded wait, then give up and try again later.
_LOCK_TIMEOUT = text("SELECT set_config('lock_timeout', :timeout, true)")

# eventrouter_ensure_week (migration 0010) is idempotent and serialised by an advisory lock.
_ENSURE_WEEKS = text(
    """
    SELECT count(*) FILTER (WHERE eventrouter_ensure_week(day))
    FROM unnest(CAST(:days AS bigint[])) AS day
    """
)

# Parents first, in the order ingest and workers take them (events, deliveries, attempts),
# so a prune waits in line instead of deadlocking; the partitions come with their parent.
_LOCK_HISTORY = text("LOCK TABLE events, deliveries, delivery_attempts IN ACCESS EXCLUSIVE MODE")

_EXISTS = text("SELECT to_regclass(:name)")
_OPEN_DELIVERIES = "SELECT count(*) FROM {deliveries} WHERE status IN ('pending', 'delivering')"
_DAY_SIZE = (
    "SELECT pg_total_relation_size('{events}') + pg_total_relation_size('{deliveries}')"
    " + pg_total_relation_size('{attempts}')"
)
# Rows of other tables that name an event of the week (migrations 0005 and 0006; they
# lost their foreign keys in 0010), joined on the week's key.
_DELETE_EVENT_ROWS = [
    f"DELETE FROM {table} x USING {{events}} e WHERE x.{column} = e.id"
    for table, column in (
        ("approvals", "request_event_id"),
        ("acknowledgements", "event_id"),
        ("slack_clicks", "event_id"),
        ("slack_message_updates", "event_id"),
        ("decisions", "event_id"),
    )
]
_DROP_WEEK = "DROP TABLE {attempts}, {deliveries}, {events}"

# Rows no week partition holds (an event id that is not a UUIDv7, or stored before its
# week was created and not yet moved) are few; they are deleted by age, an event only once none
# of its deliveries is still open.
_TRIM_DEFAULTS = text(
    """
    WITH old AS (
        SELECT e.id FROM events_default e
        WHERE e.received_at < :cutoff
          AND NOT EXISTS (SELECT 1 FROM deliveries d
                          WHERE d.event_id = e.id AND d.status IN ('pending', 'delivering'))
    ), gone_attempts AS (
        DELETE FROM delivery_attempts_default a USING deliveries_default d, old
        WHERE a.delivery_id = d.id AND d.event_id = old.id
    ), gone_deliveries AS (
        DELETE FROM deliveries_default d USING old WHERE d.event_id = old.id
    )
    DELETE FROM events_default e USING old WHERE e.id = old.id
    """
)

# Entries the routers could not read are kept for as long as the history.
_TRIM_REJECTED = text("DELETE FROM rejected_events WHERE received_at < :cutoff")


class WeekDrop(NamedTuple):
    """What became of one week a prune looked at."""

    week: int
    dropped: bool
    open_deliveries: int
    bytes: int


def existing_weeks(conn: Connection) -> list[int]:
    """The weeks that have partitions (their Mondays), oldest first."""
    names = [row.relname for row in conn.execute(_WEEKS)]
    return sorted(day_of_suffix(name.removeprefix("events_")) for name in names)


def set_lock_timeout(conn: Connection, seconds: float) -> None:
    """Bound how long DDL in this transaction waits for a lock."""
    conn.execute(_LOCK_TIMEOUT, {"timeout": f"{int(seconds * 1000)}ms"})


def is_lock_timeout(exc: DBAPIError) -> bool:
    """Whether a statement gave up waiting for a lock (``set_lock_timeout``)."""
    return isinstance(exc.orig, LockNotAvailable)


def ensure_weeks(conn: Connection, days: Iterable[int]) -> int:
    """Create the missing partitions of the weeks holding ``days``; return how many weeks
    were new."""
    wanted = sorted({week_start(day) for day in days})
    if not wanted:
        return 0
    return int(conn.execute(_ENSURE_WEEKS, {"days": wanted}).scalar_one())


def _names(week: int) -> dict[str, str]:
    suffix = suffix_of_day(week)
    return {
        "events": f"events_{suffix}",
        "deliveries": f"deliveries_{suffix}",
        "attempts": f"delivery_attempts_{suffix}",
    }


def inspect_week(conn: Connection, week: int) -> WeekDrop | None:
    """How many of the week's deliveries are still open, and its size; ``None`` when the
    week has no partitions (any more)."""
    names = _names(week)
    if conn.execute(_EXISTS, {"name": names["events"]}).scalar() is None:
        return None
    still_open = int(conn.exec_driver_sql(_OPEN_DELIVERIES.format(**names)).scalar_one())
    size = int(conn.exec_driver_sql(_DAY_SIZE.format(**names)).scalar_one())
    return WeekDrop(week, False, still_open, size)


def drop_week(conn: Connection, week: int) -> WeekDrop | None:
    """Drop the three partitions of ``week`` unless one of its deliveries is still pending
    or delivering; ``None`` when another prune dropped it first. The caller's
    transaction must bound its lock wait (``set_lock_timeout``)."""
    conn.execute(_LOCK_HISTORY)
    found = inspect_week(conn, week)  # under the lock: no delivery can reopen meanwhile
    if found is None or found.open_deliveries:
        return found
    names = _names(week)
    for statement in _DELETE_EVENT_ROWS:
        conn.exec_driver_sql(statement.format(**names))
    conn.exec_driver_sql(_DROP_WEEK.format(**names))
    return found._replace(dropped=True)


def trim_defaults(conn: Connection, cutoff: datetime) -> int:
    """Delete events older than ``cutoff`` (and theirs) from the default partitions, and
    rejected entries; return how many events went."""
    conn.execute(_TRIM_REJECTED, {"cutoff": cutoff})
    return conn.execute(_TRIM_DEFAULTS, {"cutoff": cutoff}).rowcount
