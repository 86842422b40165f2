"""The background publisher's disk spool: events waiting for Redis, oldest first.

One SQLite database in WAL mode per directory (``spool.sqlite3``). A commit reaches the
operating system before ``put`` returns, so a process killed with ``kill -9`` loses
nothing it spooled; with ``sync="normal"`` (the default) a power loss may lose the
last commits, with ``sync="full"`` each commit is fsynced too (slower; see
bench/RESULTS-producer.md). Several processes may share one directory: SQLite locks,
and two of them draining the same rows at once only sends an event twice, which the
router drops (the event id is its primary key).

The spool is bounded in bytes (the entries' UTF-8 size); what does not fit is handled
by the policy: ``drop_new`` keeps what is spooled and refuses the rest, ``drop_oldest``
deletes the oldest to make room, ``block`` refuses so the caller can wait. Every event
dropped is counted, on disk, so ``eventrouter spool status`` shows the total.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

Envelope = tuple[str, str, str]
"""``(event_id, stream entry JSON, Redis key remembering its idempotency key or "")``."""
POLICIES = ("drop_new", "drop_oldest", "block")
FILE_NAME = "spool.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spooled (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL,
    entry TEXT NOT NULL,
    remembered TEXT NOT NULL,
    size INTEGER NOT NULL,
    spooled_at REAL NOT NULL
);
-- One row: the byte total, kept in step with ``spooled`` in the same transactions so the
-- bound is checked without summing the table; and the count of events ever dropped.
CREATE TABLE IF NOT EXISTS totals (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    bytes INTEGER NOT NULL,
    dropped INTEGER NOT NULL
);
INSERT OR IGNORE INTO totals VALUES (1, 0, 0);
"""


@dataclass(frozen=True)
class SpoolStatus:
    path: Path
    events: int
    bytes: int
    max_bytes: int
    dropped: int
    oldest: float | None
    newest: float | None


@dataclass(frozen=True)
class Spooled:
    seq: int
    event_id: str
    entry: str
    remembered: str
    spooled_at: float

    @property
    def envelope(self) -> Envelope:
        return self.event_id, self.entry, self.remembered


class Put(NamedTuple):
    """What ``Spool.put`` did with a batch."""

    spooled: int
    dropped: int
    seqs: list[int | None]
    """Each envelope's row in the spool, in the batch's order; ``None`` where not spooled."""


class SpoolError(OSError):
    """The spool directory cannot be opened or written; the message names it."""


class Spool:
    """Thread-safe; reopened after a fork (a child never uses its parent's handle)."""

    def __init__(self, directory: str | Path, *, max_bytes: int, sync: str = "normal") -> None:
        if sync not in ("normal", "full"):
            raise ValueError(f"spool sync {sync!r} is invalid: use normal or full")
        self.directory = Path(directory).expanduser()
        self.path = self.directory / FILE_NAME
        self.max_bytes = max_bytes
        self._sync = sync
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self._pid = 0

    def _conn(self) -> sqlite3.Connection:
        if self._db is not None and self._pid == os.getpid():
            return self._db
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                self.path, timeout=10, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(f"PRAGMA synchronous={self._sync.upper()}")
            db.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise SpoolError(
                f"cannot open the spool at {self.path} ({exc}); make the directory writable "
                "or set EVENTROUTER_SPOOL_DIR"
            ) from exc
        self._db, self._pid = db, os.getpid()
        return db

    def forget_after_fork(self) -> None:
        """In a forked child: a fresh lock (the parent's may have been held by one of its
        threads at the fork) and no handle (the parent's is never used here)."""
        self._lock = threading.Lock()
        self._db = None

    def put(self, envelopes: Sequence[Envelope], policy: str) -> Put:
        """Spool ``envelopes`` in order under ``policy``. Under ``drop_new`` and ``block``
        the events that did not fit are the last ones: ``envelopes[spooled:]`` (counted as
        dropped only under ``drop_new``); under ``drop_oldest`` a batch larger than the
        whole spool loses its first ones."""
        if not envelopes:
            return Put(0, 0, [])
        now = time.time()
        sized = [(e, len(e[1].encode())) for e in envelopes]
        with self._lock:
            db = self._conn()
            try:
                db.execute("BEGIN IMMEDIATE")
                (used,) = db.execute("SELECT bytes FROM totals").fetchone()
                needed = sum(size for _, size in sized)
                dropped = skipped = 0
                if policy == "drop_oldest" and used + needed > self.max_bytes:
                    dropped, used = self._drop_oldest(db, used, used + needed - self.max_bytes)
                    # A batch larger than the whole spool keeps its newest events.
                    while skipped < len(sized) and needed > self.max_bytes:
                        needed -= sized[skipped][1]
                        skipped += 1
                    dropped += skipped
                fits, total = 0, used
                for _, size in sized[skipped:]:
                    if total + size > self.max_bytes:
                        break
                    total += size
                    fits += 1
                db.executemany(
                    "INSERT INTO spooled (event_id, entry, remembered, size, spooled_at) "
                    "VALUES (?, ?, ?, ?, ?)",
                    [(e[0], e[1], e[2], size, now) for e, size in sized[skipped : skipped + fits]],
                )
                # The write lock is held, so the rows just inserted took consecutive seqs
                # (AUTOINCREMENT) ending at the table's largest.
                (last,) = db.execute("SELECT coalesce(max(seq), 0) FROM spooled").fetchone()
                if policy == "drop_new":
                    dropped += len(sized) - fits
                db.execute("UPDATE totals SET bytes = ?, dropped = dropped + ?", (total, dropped))
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise SpoolError(f"cannot write the spool at {self.path}: {exc}") from exc
        first_seq = last - fits + 1
        seqs: list[int | None] = [None] * len(sized)
        seqs[skipped : skipped + fits] = range(first_seq, first_seq + fits)
        return Put(fits, dropped, seqs)

    @staticmethod
    def _drop_oldest(db: sqlite3.Connection, used: int, excess: int) -> tuple[int, int]:
        """Delete the oldest rows holding at least ``excess`` bytes; return the count and
        the bytes left."""
        freed, last, count = 0, None, 0
        for seq, size in db.execute("SELECT seq, size FROM spooled ORDER BY seq"):
            if freed >= excess:
                break
            freed += size
            last = seq
            count += 1
        if last is not None:
            db.execute("DELETE FROM spooled WHERE seq <= ?", (last,))
        return count, max(0, used - freed)

    def head(self, limit: int) -> list[Spooled]:
        """The oldest ``limit`` events, in the order they were spooled."""
        with self._lock:
            rows = (
                self._conn()
                .execute(
                    "SELECT seq, event_id, entry, remembered, spooled_at FROM spooled "
                    "ORDER BY seq LIMIT ?",
                    (limit,),
                )
                .fetchall()
            )
        return [Spooled(*row) for row in rows]

    def remove(self, events: Sequence[Spooled]) -> None:
        """Forget events Redis accepted (a row another process removed first is skipped)."""
        self.remove_rows([event.seq for event in events])

    def remove_rows(self, seqs: Sequence[int]) -> None:
        """``remove`` by row: the rows ``put`` returned for events since sent."""
        if not seqs:
            return
        with self._lock:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                freed = 0
                for seq in seqs:
                    # RETURNING: a row another process removed first frees nothing twice.
                    row = db.execute(
                        "DELETE FROM spooled WHERE seq = ? RETURNING size", (seq,)
                    ).fetchone()
                    freed += row[0] if row else 0
                db.execute("UPDATE totals SET bytes = max(0, bytes - ?)", (freed,))
                db.execute("COMMIT")
            except sqlite3.Error as exc:
                db.execute("ROLLBACK")
                raise SpoolError(f"cannot write the spool at {self.path}: {exc}") from exc

    def count(self) -> int:
        if self._db is None and not self.path.exists():
            return 0  # nothing spooled yet: no need to create the file to say so
        with self._lock:
            (count,) = self._conn().execute("SELECT count(*) FROM spooled").fetchone()
        return int(count)

    def status(self) -> SpoolStatus:
        with self._lock:
            db = self._conn()
            count, oldest, newest = db.execute(
                "SELECT count(*), min(spooled_at), max(spooled_at) FROM spooled"
            ).fetchone()
            used, dropped = db.execute("SELECT bytes, dropped FROM totals").fetchone()
        return SpoolStatus(self.path, count, used, self.max_bytes, dropped, oldest, newest)

    def close(self) -> None:
        with self._lock:
            db, self._db = self._db, None
            if db is not None and self._pid == os.getpid():
                db.close()
