"""Emptying the database between test cases and benchmark runs, from the schema itself.

The tables come from Postgres' catalog, not from a list kept by hand, so a table a
migration adds is emptied from the day it exists. What stays is named here: the
migration head, the ``config_version`` counter (routers compare it, so it only grows),
the built-in system channels and, when asked, the configuration a benchmark set up once.

Two ways to empty, one list:

- ``delete_sql``: DELETE children before parents, then restart the id sequences. On the
  near-empty tables of a test it is much faster than TRUNCATE and means the same.
- ``truncate``: one TRUNCATE … RESTART IDENTITY, for tables that may hold many rows, retried
  when Postgres cancels it to break a deadlock with a running router or worker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

KEPT = frozenset({"alembic_version", "config_version"})
"""Bookkeeping that outlives any data: the migration head and the config counter."""

CONFIGURATION = frozenset(
    {
        "channels",
        "destinations",
        "subscriptions",
        "subscription_channels",
        "subscription_destinations",
        "users",
        "api_tokens",
    }
)
"""What a benchmark sets up once and keeps across runs (``keep_configuration=True``)."""

SYSTEM_ROWS = {"channels": "NOT is_system"}
"""Tables whose built-in rows stay: only the rows matching the condition are deleted."""

_TABLES = text(
    """
    SELECT c.relname AS name,
           coalesce(array_agg(s.relname) FILTER (WHERE s.relname IS NOT NULL), '{}') AS sequences
      FROM pg_class c
      JOIN pg_namespace n ON n.oid = c.relnamespace
      -- a sequence owned by one of the table's columns (serial or identity)
      LEFT JOIN pg_depend d
             ON d.refobjid = c.oid AND d.classid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
      LEFT JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
     GROUP BY c.relname
    """
)

# Partitions repeat their parent's foreign keys (conparentid <> 0): the parents' suffice.
_FOREIGN_KEYS = text(
    """
    SELECT child.relname AS child, parent.relname AS parent
      FROM pg_constraint k
      JOIN pg_class child ON child.oid = k.conrelid
      JOIN pg_class parent ON parent.oid = k.confrelid
     WHERE k.contype = 'f' AND k.conparentid = 0 AND k.conrelid <> k.confrelid
    """
)


@dataclass(frozen=True)
class Tables:
    """The tables to empty, each before any table it references, and their id sequences."""

    names: tuple[str, ...]
    sequences: tuple[tuple[str, str], ...]
    """(table, sequence) pairs."""

    def delete_sql(self) -> str:
        """DELETE every row (system rows excepted), children first; ids restart at 1, a
        table with system rows numbers on after them."""
        deletes = [
            f"DELETE FROM {name}" + (f" WHERE {SYSTEM_ROWS[name]}" if name in SYSTEM_ROWS else "")
            for name in self.names
        ]
        return "; ".join(deletes + [_restart(table, seq) for table, seq in self.sequences])

    def truncate_sql(self) -> str:
        """TRUNCATE … RESTART IDENTITY, then the DELETE of tables with system rows."""
        whole = [name for name in self.names if name not in SYSTEM_ROWS]
        partly = Tables(
            tuple(name for name in self.names if name in SYSTEM_ROWS),
            tuple(pair for pair in self.sequences if pair[0] in SYSTEM_ROWS),
        )
        statements = [f"TRUNCATE {', '.join(whole)} RESTART IDENTITY"] if whole else []
        return "; ".join(statements + ([partly.delete_sql()] if partly.names else []))


def _restart(table: str, sequence: str) -> str:
    if table in SYSTEM_ROWS:
        # setval(…, NULL) is a no-op when no system row exists.
        return f"SELECT setval('{sequence}', (SELECT max(id) FROM {table}))"
    return f"SELECT setval('{sequence}', 1, false)"


def children_first(names: Iterable[str], references: Iterable[tuple[str, str]]) -> list[str]:
    """``names`` ordered so that a table comes before every table it references (its
    rows must go first); ties in name order. ``references`` are (child, parent) pairs."""
    remaining = sorted(set(names))
    parents: dict[str, set[str]] = {name: set() for name in remaining}
    for child, parent in references:
        if child in parents and parent in parents:
            parents[child].add(parent)
    ordered: list[str] = []
    while remaining:
        # a table nothing left references can go now
        free = [n for n in remaining if not any(n in parents[o] for o in remaining if o != n)]
        if not free:
            raise ValueError(f"foreign keys form a cycle among {', '.join(remaining)}")
        ordered.extend(free)
        remaining = [n for n in remaining if n not in free]
    return ordered


def tables(conn: Connection, *, keep_configuration: bool = False) -> Tables:
    """Every public table of the schema except ``KEPT`` (and ``CONFIGURATION`` when
    ``keep_configuration``), in an order DELETE can follow."""
    kept = KEPT | CONFIGURATION if keep_configuration else KEPT
    found = {
        row.name: tuple(sorted(row.sequences))
        for row in conn.execute(_TABLES)
        if row.name not in kept
    }
    keys = [(row.child, row.parent) for row in conn.execute(_FOREIGN_KEYS)]
    names = children_first(found, keys)
    return Tables(tuple(names), tuple((name, seq) for name in names for seq in found[name]))


def truncate(engine: Engine, *, keep_configuration: bool = False, attempts: int = 5) -> None:
    """Empty the tables with TRUNCATE while routers and workers may be running.

    TRUNCATE takes each table's exclusive lock in turn while a router or worker may hold a
    shared lock on one and wait for another: Postgres then breaks the deadlock by
    cancelling one side. When that side is us, the running processes have moved on and
    the same TRUNCATE succeeds on a second try.
    """
    for attempt in range(attempts):
        try:
            with engine.begin() as conn:
                conn.exec_driver_sql(
                    tables(conn, keep_configuration=keep_configuration).truncate_sql()
                )
            return
        except DBAPIError as exc:
            if not isinstance(exc.orig, psycopg.errors.DeadlockDetected) or attempt == attempts - 1:
                raise
