"""``python -m bench --only retention --rows N``: the history partitioned by week against
the plain tables it replaced (migration 0009), loaded with the same rows, in one run.

- the queries the CLI and the API run (``router/db/history.py``): history, one event in
  full, the delivery log; p50/p95 over many calls with varying arguments;
- ingest: ``EventStore.store`` of batches of 500 events, one delivery each, alternated
  between the two databases;
- dropping the oldest week: ``db prune`` (three DROP TABLEs) against a DELETE of the same
  rows from the plain tables.

Rows are generated in SQL (``generate_series``): ``N`` attempt rows, over 30 days, for
N/6 events and N/4 deliveries (4 attempts each). Two databases are created and dropped:
``<BENCH_DATABASE>_plain`` and ``<BENCH_DATABASE>_weeks``.
"""

from __future__ import annotations

import importlib
import json
import random
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import psycopg
import re2
from sqlalchemy import Engine, text

from bench.services import BenchConfig, drop_database, maintenance_dsn
from eventrouter.router.db import details, history, ingest, make_engine, partitions
from eventrouter.router.db.migrate import create_database_if_missing, upgrade
from eventrouter.router.events import new_event_id
from eventrouter.router.partitions import PartitionKeeper
from eventrouter.router.retention import SECONDS_PER_DAY, day_of_time, week_start
from eventrouter.router.store import EventStore

DAYS = 30
QUERY_CALLS = 200
INGEST_BATCH = 500
INGEST_BATCHES = 20
INGEST_RUNS = 3

# The statement ingest ran before migration 0010 (one unique constraint over the whole
# table; the id from the column's sequence): the baseline's ingest runs it.
PLAIN_INSERT_DELIVERIES = text(
    """
    INSERT INTO deliveries (event_id, destination_id, subscription_id, dispatched_at)
    SELECT t.e, t.d, t.s, CASE WHEN CAST(:dispatching AS boolean) THEN now() END FROM unnest(
        CAST(:event_ids AS uuid[]), CAST(:destination_ids AS int[]),
        CAST(:subscription_ids AS int[])) AS t(e, d, s)
    WHERE EXISTS (SELECT 1 FROM destinations WHERE id = t.d)
      AND EXISTS (SELECT 1 FROM subscriptions WHERE id = t.s)
    ON CONFLICT (event_id, destination_id) DO NOTHING
    RETURNING id, destination_id
    """
)

# One statement per table, the same on both schemas. Event ids are UUIDv7 of their
# publish time; a delivery id carries its event's day (what migration 0010 does), so the
# two databases hold the same ids. Foreign-key triggers are off while loading (replica role):
# the rows are consistent by construction, and checking 10 million would double the time.
_CONFIG = """
INSERT INTO destinations (org, name, kind, config) VALUES
    ('bench', 'hook-a', 'webhook', '{"url": "http://127.0.0.1:9/a"}'),
    ('bench', 'hook-b', 'webhook', '{"url": "http://127.0.0.1:9/b"}');
INSERT INTO subscriptions (org, name) VALUES ('bench', 'all');
INSERT INTO subscription_destinations VALUES (1, 1), (1, 2);
"""
_EVENTS = """
INSERT INTO events (id, name, org, env, payload, published_at, received_at)
SELECT (lpad(to_hex((extract(epoch FROM ts) * 1000)::bigint), 12, '0') || '7'
        || substr(md5(g::text), 1, 3) || '8' || substr(md5(g::text), 4, 15))::uuid,
       'bench.event.' || (g % 20), 'bench', CASE WHEN g % 3 = 0 THEN 'production' END,
       jsonb_build_object('n', g, 'invoice', 'in_' || g), ts, ts
FROM (SELECT g, to_timestamp(:end - :seconds * (1 - g::float8 / :events)) AS ts
      FROM generate_series(1, :events) g) s
"""
_DELIVERIES = """
INSERT INTO deliveries (id, event_id, destination_id, subscription_id, status, attempt_count,
                        next_attempt_at, last_error, created_at, updated_at)
SELECT (floor(extract(epoch FROM e.published_at) / 86400)::bigint << 40) + row_number() OVER (),
       e.id, dest, 1,
       CASE WHEN e.received_at > to_timestamp(:end) - interval '10 minutes' THEN 'pending'
            WHEN (abs(hashtext(e.id::text)) % 100) = 0 THEN 'failed' ELSE 'succeeded' END,
       4, e.received_at, NULL, e.received_at, e.received_at + interval '4 minutes'
FROM events e CROSS JOIN generate_series(1, 2) dest
WHERE dest = 1 OR abs(hashtext(e.id::text)) % 2 = 0
"""
_ATTEMPTS = """
INSERT INTO delivery_attempts (id, delivery_id, attempt_number, started_at, duration_ms,
                               outcome, http_status, error)
SELECT row_number() OVER (), d.id, n, d.created_at + make_interval(mins => n - 1), 20 + n,
       CASE WHEN n < 4 THEN 'retry' ELSE 'succeeded' END,
       CASE WHEN n < 4 THEN 503 ELSE 200 END,
       CASE WHEN n < 4 THEN 'HTTP 503 Service Unavailable' END
FROM deliveries d CROSS JOIN generate_series(1, 4) n
"""
# The indexes migrations 0013 and 0014 add (the delivery log's order, an event's deliveries,
# events by name) exist in both databases, so the comparison is of partitioning alone.
HISTORY_INDEXES = "".join(
    importlib.import_module(f"eventrouter.router.db.migrations.versions.{name}").UPGRADE
    for name in ("0013_history_indexes", "0014_events_by_org_name")
)
_SEQUENCES = """
SELECT setval('deliveries_id_seq', (SELECT max(id & 1099511627775) FROM deliveries));
SELECT setval('delivery_attempts_id_seq', (SELECT max(id) FROM delivery_attempts));
"""


@dataclass
class Database:
    name: str
    engine: Engine
    partitioned: bool
    loaded: bool = False
    """Found loaded (``--reuse``): the load is skipped."""
    load_seconds: float = 0.0


SCHEMAS = {"plain": "0009", "weeks": "head"}
"""Each database's schema: the plain tables before partitioning, and the current one."""


def kept_name(database: str, schema: str, rows: int) -> str:
    """The name a kept database goes by: the load is in it, so a run with other rows
    never mistakes it (``eventrouter_bench_weeks_10m``)."""
    size = f"{rows // 1_000_000}m" if rows % 1_000_000 == 0 else str(rows)
    return f"{database}_{schema}_{size}"


def _load_mark(rows: int) -> str:
    return f"eventrouter bench retention load: {rows} attempt rows"


def _holds_load(db_config: BenchConfig, rows: int) -> bool:
    """Whether the database exists and a finished load of ``rows`` marked it (the mark is
    written after the load commits, so an interrupted load is never reused)."""
    with psycopg.connect(maintenance_dsn(db_config), autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (db_config.database,),
        ).fetchone()
    return row is not None and row[0] == _load_mark(rows)


def mark_loaded(db: Database, rows: int) -> None:
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        database = conn.exec_driver_sql("SELECT current_database()").scalar_one()
        conn.exec_driver_sql(f"COMMENT ON DATABASE \"{database}\" IS '{_load_mark(rows)}'")


@contextmanager
def databases(
    config: BenchConfig,
    log: Callable[[str], None],
    *,
    schemas: Sequence[str] = tuple(SCHEMAS),
    rows: int,
    reuse: bool = False,
) -> Iterator[list[Database]]:
    """One database per schema, created and dropped; with ``reuse``, kept under
    ``kept_name`` and used as found when it holds a finished load of ``rows``."""
    made = []
    try:
        for suffix in schemas:
            revision = SCHEMAS[suffix]
            name = (
                kept_name(config.database, suffix, rows)
                if reuse
                else (f"{config.database}_{suffix}")
            )
            db_config = replace(config, database=name)
            loaded = reuse and _holds_load(db_config, rows)
            if not loaded:
                drop_database(db_config)
                create_database_if_missing(db_config.database_url)
            # A reused database gets the migrations added since it was loaded (an index).
            upgrade(db_config.database_url, revision)
            engine = make_engine(db_config.database_url)
            db = Database(suffix, engine, partitioned=suffix == "weeks", loaded=loaded)
            made.append((db_config, db))
            state = "reused, already loaded" if loaded else "created"
            log(f"database {db_config.database} at revision {revision} ({state})")
        yield [db for _, db in made]
    finally:
        for db_config, db in made:
            db.engine.dispose()
            if not reuse:
                drop_database(db_config)


def load(db: Database, rows: int, end: float, log: Callable[[str], None]) -> None:
    """``rows`` attempt rows (and their events and deliveries) over the ``DAYS`` days up to
    ``end``: the same rows in every database loaded with the same arguments."""
    events = max(rows // 6, 1)
    began = time.perf_counter()
    with db.engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for statement in _CONFIG.strip().split(";\n"):
            conn.exec_driver_sql(statement)
        if db.partitioned:
            today = day_of_time(time.time())
            partitions.ensure_weeks(conn, range(today - DAYS - 1, today + 8))
        params = {"seconds": DAYS * SECONDS_PER_DAY, "events": events, "end": end}
        conn.execute(text(_EVENTS), params)
        conn.execute(text(_DELIVERIES), {"end": end})
        conn.execute(text(_ATTEMPTS))
        for statement in _SEQUENCES.strip().splitlines():
            conn.exec_driver_sql(statement)
        if not db.partitioned:
            for statement in HISTORY_INDEXES.strip().splitlines():
                conn.exec_driver_sql(statement)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    db.load_seconds = time.perf_counter() - began
    log(f"  {db.name}: {_counts(db)} loaded in {db.load_seconds:.0f} s")


def _counts(db: Database) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {
            table: int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one())
            for table in ("events", "deliveries", "delivery_attempts")
        }


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": statistics.median(ordered) * 1000,
        "p95_ms": ordered[int(len(ordered) * 0.95) - 1] * 1000,
        "max_ms": ordered[-1] * 1000,
    }


def query_times(db: Database, seed: int) -> dict[str, dict[str, float]]:
    """Each query the CLI runs, ``QUERY_CALLS`` times with varying arguments, in the
    order a user's session would mix them."""
    rng = random.Random(seed)
    with db.engine.connect() as conn:
        sample = [
            str(row.id)
            for row in conn.execute(
                text("SELECT id FROM events ORDER BY random() LIMIT :n"), {"n": QUERY_CALLS}
            )
        ]
        cursors = [
            (row.received_at, str(row.id))
            for row in conn.execute(
                text("SELECT received_at, id FROM events ORDER BY random() LIMIT :n"),
                {"n": QUERY_CALLS},
            )
        ]
        deliveries = [
            int(row.id)
            for row in conn.execute(
                text("SELECT id FROM deliveries ORDER BY random() LIMIT :n"), {"n": QUERY_CALLS}
            )
        ]
        # As the control plane calls them (router/control): the history hides system
        # events by default, and a name pattern is matched against the org's names first.
        cases: dict[str, Callable[[int], Any]] = {
            "history (first page)": lambda i: history.history(
                conn, "bench", limit=51, hide_system=True
            ),
            "history (a later page)": lambda i: history.history(
                conn, "bench", limit=51, hide_system=True, after=cursors[i % len(cursors)]
            ),
            "history --status failed": lambda i: history.history(
                conn, "bench", limit=51, hide_system=True, status="failed"
            ),
            "history --name (regex)": lambda i: history.history(
                conn,
                "bench",
                limit=51,
                hide_system=True,
                names=[
                    name
                    for name in history.event_names(conn, "bench")
                    if re2.fullmatch(f"bench\\.event\\.{i % 20}", name)
                ],
            ),
            "show EVENT": lambda i: details.event_detail(conn, "bench", sample[i % len(sample)]),
            "deliveries (first page)": lambda i: history.deliveries(conn, "bench", limit=51),
            "deliveries --status failed": lambda i: history.deliveries(
                conn, "bench", limit=51, status="failed"
            ),
            "deliveries --destination": lambda i: history.deliveries(
                conn, "bench", limit=51, destination_id=1 + i % 2
            ),
            "show DELIVERY": lambda i: details.delivery_detail(
                conn, "bench", deliveries[i % len(deliveries)]
            ),
        }
        samples: dict[str, list[float]] = {name: [] for name in cases}
        order = [(name, i) for name in cases for i in range(QUERY_CALLS)]
        rng.shuffle(order)
        for name, i in order:
            began = time.perf_counter()
            cases[name](i)
            samples[name].append(time.perf_counter() - began)
            conn.rollback()
    return {name: _percentiles(values) for name, values in samples.items()}


class _NoPartitions:
    """The plain tables have no weeks to create."""

    def ensure_for(self, event_ids: Any, now: float | None = None) -> int:
        return 0


def _store(db: Database) -> EventStore:
    store = EventStore(db.engine)
    store.refresh_routing_table()
    if not db.partitioned:
        store.partitions = _NoPartitions()  # type: ignore[assignment]
    return store


def _entries(count: int, batch: int) -> list[tuple[bytes, dict[bytes, bytes]]]:
    return [
        (
            f"{batch}-{i}".encode(),
            {
                b"event": json.dumps(
                    {
                        "id": new_event_id(),
                        "name": "bench.event.1",
                        "org": "bench",
                        "env": None,
                        "payload": {"n": i, "invoice": f"in_{i}"},
                        "published_at": time.time(),
                    }
                ).encode()
            },
        )
        for i in range(count)
    ]


def ingest_rate(db: Database) -> float:
    """Events/s through ``EventStore.store`` (one delivery each), batches of 500."""
    store = _store(db)
    batches = [_entries(INGEST_BATCH, n) for n in range(INGEST_BATCHES)]
    plain = not db.partitioned
    original = ingest.INSERT_DELIVERIES
    if plain:
        ingest.INSERT_DELIVERIES = PLAIN_INSERT_DELIVERIES
    try:
        began = time.perf_counter()
        for entries in batches:
            store.store(entries, dispatching=False)
        elapsed = time.perf_counter() - began
    finally:
        ingest.INSERT_DELIVERIES = original
    return INGEST_BATCH * INGEST_BATCHES / elapsed


def _oldest_week(db: Database) -> int:
    with db.engine.connect() as conn:
        oldest = conn.execute(text("SELECT min(published_at) FROM events")).scalar_one()
    return week_start(day_of_time(oldest.timestamp()))


def drop_oldest_week(db: Database) -> dict[str, float]:
    """Seconds to remove the oldest week: ``db prune`` or a DELETE of the same rows."""
    week = _oldest_week(db)
    with db.engine.connect() as conn:
        before = int(
            conn.execute(
                text("SELECT count(*) FROM deliveries WHERE id >= :lo AND id < :hi"),
                {"lo": week << 40, "hi": (week + 7) << 40},
            ).scalar_one()
        )
    began = time.perf_counter()
    if db.partitioned:
        older_than = time.time() - (week + 7) * SECONDS_PER_DAY
        report = PartitionKeeper(db.engine, lock_timeout=5.0).prune(older_than)
        assert report.dropped, report
    else:
        with db.engine.begin() as conn:
            # ON DELETE CASCADE takes the deliveries and their attempts with the events.
            conn.execute(
                text(
                    "DELETE FROM events WHERE received_at >= to_timestamp(:lo) "
                    "AND received_at < to_timestamp(:hi)"
                ),
                {"lo": week * SECONDS_PER_DAY, "hi": (week + 7) * SECONDS_PER_DAY},
            )
    seconds = time.perf_counter() - began
    return {"seconds": seconds, "deliveries": before}


def run(
    config: BenchConfig,
    rows: int,
    log: Callable[[str], None],
    *,
    schemas: Sequence[str] = tuple(SCHEMAS),
    reuse: bool = False,
) -> dict[str, Any]:
    """Load, time the queries, then (on fresh databases only) ingest, drop the oldest week
    and migrate plain to weeks. ``reuse``: keep the loaded databases and time the queries
    alone, since the other phases change the rows a later run would reuse."""
    results: dict[str, Any] = {"rows": rows, "days": DAYS, "reused": reuse}
    with databases(config, log, schemas=schemas, rows=rows, reuse=reuse) as made:
        end = time.time()
        for db in made:
            if not db.loaded:
                log(f"loading {rows:,} attempt rows into {db.name}")
                load(db, rows, end, log)
                if reuse:
                    mark_loaded(db, rows)
            results.setdefault("load", {})[db.name] = {
                "seconds": db.load_seconds,
                "counts": _counts(db),
            }
        log("queries the CLI and API run")
        for db in made:
            results.setdefault("queries", {})[db.name] = query_times(db, seed=1)
            for name, figures in results["queries"][db.name].items():
                p50, p95 = figures["p50_ms"], figures["p95_ms"]
                log(f"  {db.name} {name}: p50 {p50:.1f} p95 {p95:.1f} ms")
        if reuse or len(made) < len(SCHEMAS):
            return results
        plain, weeks = made
        log("ingest (alternating)")
        rates: dict[str, list[float]] = {"plain": [], "weeks": []}
        for _ in range(INGEST_RUNS):
            for db in (plain, weeks):
                rates[db.name].append(ingest_rate(db))
                log(f"  {db.name}: {rates[db.name][-1]:.0f} events/s")
        results["ingest"] = rates
        log("dropping the oldest week")
        for db in (plain, weeks):
            results.setdefault("drop", {})[db.name] = drop_oldest_week(db)
            log(f"  {db.name}: {results['drop'][db.name]}")
        log("migrating the plain database to the weekly partitions")
        results["migration"] = migrate(plain, replace(config, database=f"{config.database}_plain"))
        log(f"  {results['migration']}")
    return results


def migrate(db: Database, config: BenchConfig) -> dict[str, Any]:
    """Seconds ``db upgrade`` takes to move the loaded plain tables into week partitions;
    the row counts before and after (they must be equal)."""
    before = _counts(db)
    db.engine.dispose()
    began = time.perf_counter()
    upgrade(config.database_url)
    seconds = time.perf_counter() - began
    return {"seconds": seconds, "before": before, "after": _counts(db)}


RESULTS = Path(__file__).resolve().parent / "RESULTS-retention.md"
QUERY_GOAL_MS = 50.0
CONTROL_PLANE_ONLY = ("history --status failed",)
"""Queries the control plane offers (for the HTTP API) that no CLI command runs yet."""


def _ratio(after: float, before: float) -> str:
    return f"{after / before:.2f}×" if before else "–"


def complete(results: dict[str, Any]) -> bool:
    """Whether the run had every phase (``render`` needs them); ``--reuse`` or one
    ``--schema`` times the queries alone (``render_queries``)."""
    return "migration" in results["retention"]


def render_queries(results: dict[str, Any]) -> str:
    """The queries' table of a run that timed them alone, for the databases it had."""
    r = results["retention"]
    machine = results["machine"]
    names = list(r["queries"])
    counts = r["load"][names[0]]["counts"]
    lines = [
        "# Retention: the CLI's queries alone",
        "",
        f"Written by `{results['command']}` on {results['started']}: "
        f"{counts['delivery_attempts']:,} attempt rows, {counts['deliveries']:,} deliveries, "
        f"{counts['events']:,} events; {QUERY_CALLS} calls of each query, interleaved at "
        f"random. Load average before {', '.join(f'{x:.2f}' for x in machine['load_before'])}, "
        f"after {', '.join(f'{x:.2f}' for x in machine['load_after'])}.",
        "",
        "| query | " + " | ".join(f"{n} p50 ms | {n} p95 ms | {n} max ms" for n in names) + " |",
        "| --- |" + " --- | --- | --- |" * len(names),
    ]
    for query in r["queries"][names[0]]:
        label = f"{query} (control plane only)" if query in CONTROL_PLANE_ONLY else query
        cells = [
            f"{f['p50_ms']:.1f} | {f['p95_ms']:.1f} | {f['max_ms']:.1f}"
            for f in (r["queries"][n][query] for n in names)
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render(results: dict[str, Any]) -> str:
    """``bench/RESULTS-retention.md`` from one run's results."""
    r = results["retention"]
    machine = results["machine"]
    plain_load, days_load = r["load"]["plain"], r["load"]["weeks"]
    lines = [
        "# Retention: the history partitioned by week",
        "",
        f"Written by `{results['command']}` on {results['started']}, in "
        f"{results['seconds'] / 60:.1f} minutes. Two databases loaded with the same rows: "
        "**plain** is the schema before partitioning (migration 0009: one table each, with "
        "the indexes of migrations 0013 and 0014 added), **weeks** is the current one "
        "(migrations 0010, 0013 and 0014: a partition per UTC week). "
        f"{days_load['counts']['delivery_attempts']:,} attempt rows, "
        f"{days_load['counts']['deliveries']:,} deliveries, "
        f"{days_load['counts']['events']:,} events over {r['days']} days in each "
        f"(loaded in {plain_load['seconds']:.0f} s and {days_load['seconds']:.0f} s).",
        "",
        "## Goals",
        "",
        "| figure | goal | plain | weeks | weeks ÷ plain | met |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    cli = [name for name in r["queries"]["weeks"] if name not in CONTROL_PLANE_ONLY]
    worst = max(r["queries"]["weeks"][name]["p95_ms"] for name in cli)
    worst_plain = max(r["queries"]["plain"][name]["p95_ms"] for name in cli)
    met = "yes" if worst <= QUERY_GOAL_MS else "**no**"
    lines.append(
        f"| slowest p95 of the CLI's queries, ms | ≤ {QUERY_GOAL_MS:.0f} | {worst_plain:.1f} | "
        f"{worst:.1f} | {_ratio(worst, worst_plain)} | {met} |"
    )
    plain_rate = statistics.median(r["ingest"]["plain"])
    days_rate = statistics.median(r["ingest"]["weeks"])
    spread = max(r["ingest"]["plain"]) / min(r["ingest"]["plain"]) - 1
    within = days_rate >= plain_rate * (1 - max(spread, 0.05))
    lines.append(
        f"| ingest events/s (`EventStore.store`, batches of {INGEST_BATCH}, one delivery each; "
        f"median of {INGEST_RUNS}) | unchanged within noise (plain's own spread "
        f"{spread:.0%}) | {plain_rate:,.0f} | {days_rate:,.0f} | {_ratio(days_rate, plain_rate)} "
        f"| {'within noise' if within else '**no**'} |"
    )
    drop_plain, drop_days = r["drop"]["plain"], r["drop"]["weeks"]
    lines.append(
        f"| removing the oldest week ({drop_days['deliveries']:,} deliveries with their events "
        f"and attempts), ms | a DROP, not a DELETE | {drop_plain['seconds'] * 1000:,.0f} "
        f"(DELETE) | {drop_days['seconds'] * 1000:,.0f} (`db prune`) | "
        f"{_ratio(drop_days['seconds'], drop_plain['seconds'])} | – |"
    )
    if "migration" in r:
        moved = r["migration"]
        lines.append(
            f"| `db upgrade` to the weekly partitions (migration 0010) on the loaded plain "
            f"tables, s | no row lost | – | {moved['seconds']:.0f} | – | "
            f"{'yes' if moved['before'] == moved['after'] else '**no**'} |"
        )
    lines += [
        "",
        f"## The CLI's queries ({QUERY_CALLS} calls each, interleaved at random)",
        "",
        "The functions of `router/db/history.py` that `eventrouter history`, `show`, "
        "`deliveries`, `deliveries show` and the HTTP API call, as the control plane calls "
        "them (system events hidden, a name pattern matched against the org's names first), "
        "with a page of 50; arguments vary per call (a random event or delivery for a `show`, "
        "a random cursor for a later page).",
        "",
        "| query | plain p50 ms | plain p95 ms | weeks p50 ms | weeks p95 ms | weeks max ms |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for name, figures in r["queries"]["weeks"].items():
        before = r["queries"]["plain"][name]
        label = f"{name} (control plane only)" if name in CONTROL_PLANE_ONLY else name
        lines.append(
            f"| {label} | {before['p50_ms']:.1f} | {before['p95_ms']:.1f} | "
            f"{figures['p50_ms']:.1f} | {figures['p95_ms']:.1f} | {figures['max_ms']:.1f} |"
        )
    lines += [
        "",
        "## Ingest",
        "",
        "Runs alternate between the databases (plain, weeks, plain, …), "
        f"{INGEST_BATCHES} batches of {INGEST_BATCH} events each, on the loaded tables.",
        "",
        "| database | events/s per run |",
        "| --- | --- |",
    ]
    for name in ("plain", "weeks"):
        lines.append(f"| {name} | {', '.join(f'{x:,.0f}' for x in r['ingest'][name])} |")
    lines += [
        "",
        "## Machine",
        "",
        f"{machine['cpus']} CPUs ({machine['cpu_model']}), {machine['memory_gib']} GiB, "
        f"kernel {machine['kernel']}, Python {machine['python']}, Postgres "
        f"{machine['versions'].get('postgres')}; load average before "
        f"{', '.join(f'{x:.2f}' for x in machine['load_before'])}, after "
        f"{', '.join(f'{x:.2f}' for x in machine['load_after'])}. The machine is shared: "
        "absolute figures move with other users' load; the ratios come from one run.",
        "",
    ]
    return "\n".join(lines)
