"""The history's queries reach deliveries through an index, on real Postgres.

At millions of deliveries a query that reads every delivery of an event by a full scan
takes seconds (``bench/RESULTS-retention.md``); on a test's rows any plan is fast, so
these tests read the plans instead: the statements the history functions really send are
captured and explained over enough analysed rows (``MANY``) that the planner chooses as
it does at scale. ``show EVENT`` and ``show DELIVERY`` are run (``EXPLAIN ANALYZE``) over
several weeks of rows, to see which weeks' partitions they really read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Connection, Engine, event, text

from eventrouter.router.db import details, history
from eventrouter.router.db.partitions import ensure_weeks
from eventrouter.router.retention import SECONDS_PER_DAY, day_of_time, suffix_of_day, week_start
from tests.helpers import Seed
from tests.integration.test_retention import event_id_at

MANY = 20_000


def many_deliveries(seed: Seed, destination: int) -> None:
    """``MANY`` events with a delivery each, in SQL, and fresh statistics."""
    with seed.engine.begin() as conn:
        conn.execute(
            text(
                "WITH e AS (INSERT INTO events (id, name, org, payload, published_at) "
                "SELECT gen_random_uuid(), 'bulk', 'default', '{}', now() "
                "FROM generate_series(1, :n) RETURNING id) "
                "INSERT INTO deliveries (event_id, destination_id, status, updated_at) "
                "SELECT id, :d, 'succeeded', now() - random() * interval '1 day' FROM e"
            ),
            {"n": MANY, "d": destination},
        )
    with seed.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE events, deliveries")


def plans(
    engine: Engine, call: Callable[[Connection], object], *, analyze: bool = False
) -> list[dict[str, Any]]:
    """The plan of every statement ``call`` sends; run with ``analyze`` (reads only)."""
    sent: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        with engine.connect() as conn:
            call(conn)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    with engine.connect() as conn:
        return [
            conn.exec_driver_sql(
                f"EXPLAIN (ANALYZE {analyze}, FORMAT JSON) {statement}", parameters
            ).scalar_one()[0]["Plan"]
            for statement, parameters in sent
        ]


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def delivery_scans(engine: Engine, plan: dict[str, Any]) -> list[dict[str, Any]]:
    """Nodes that read a partition of ``deliveries`` holding rows (an empty one is
    scanned whole at no cost)."""
    with engine.connect() as conn:
        holding = set(
            conn.execute(
                text(
                    "SELECT relname FROM pg_class WHERE relname LIKE 'deliveries%' "
                    "AND relkind = 'r' AND reltuples > 0"
                )
            ).scalars()
        )
    return [
        node
        for node in nodes(plan)
        if node.get("Relation Name") in holding
        and node["Node Type"] in ("Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan")
    ]


def by_event_id(node: dict[str, Any]) -> bool:
    """Whether an index condition on ``event_id`` finds the node's rows."""
    conditions = [node.get("Index Cond", "")] + [
        child.get("Index Cond", "") for child in nodes(node) if child is not node
    ]
    return any("event_id" in condition for condition in conditions)


def test_an_events_deliveries_are_found_by_its_id(seed: Seed) -> None:
    _, destination, _ = seed.route(".*", "http://127.0.0.1:9/")
    event_id = seed.event()
    seed.delivery(event_id, destination, status="failed")
    many_deliveries(seed, destination)

    calls: dict[str, Callable[[Connection], object]] = {
        "history": lambda conn: history.history(conn, "default", limit=51, hide_system=True),
        "retry EVENT": lambda conn: history.event_delivery_ids(conn, "default", event_id),
    }
    for name, call in calls.items():
        scans = [
            node for plan in plans(seed.engine, call) for node in delivery_scans(seed.engine, plan)
        ]
        assert scans, name
        for node in scans:
            assert node["Node Type"] != "Seq Scan" and by_event_id(node), (name, node)


def test_the_delivery_log_reads_its_order_from_an_index(seed: Seed) -> None:
    _, destination, _ = seed.route(".*", "http://127.0.0.1:9/")
    many_deliveries(seed, destination)

    calls: dict[str, Callable[[Connection], object]] = {
        "deliveries": lambda conn: history.deliveries(conn, "default", limit=51),
        "deliveries --destination": lambda conn: history.deliveries(
            conn, "default", limit=51, destination_id=destination
        ),
    }
    for name, call in calls.items():
        (plan,) = plans(seed.engine, call)
        scans = delivery_scans(seed.engine, plan)
        assert scans and all(node["Node Type"] != "Seq Scan" for node in scans), name
        sorts = [node for node in nodes(plan) if "Sort" in node["Node Type"]]
        assert not any("updated_at" in str(node.get("Sort Key")) for node in sorts), (name, plan)


WEEKS = 3


def weeks_of_history(seed: Seed, destination: int) -> list[int]:
    """``MANY`` events over the last ``WEEKS`` weeks (their Mondays returned), each with a
    delivery and an attempt in its week's partitions, and fresh statistics."""
    now = time.time()
    days = [day_of_time(now) - 7 * n for n in range(WEEKS)]
    with seed.engine.begin() as conn:
        ensure_weeks(conn, days)
        conn.execute(
            text(
                "WITH e AS (INSERT INTO events (id, name, org, payload, published_at) "
                "SELECT gen_random_uuid(), 'bulk', 'default', '{}', "
                "to_timestamp(:now - (g % :weeks) * 7 * 86400) "
                "FROM generate_series(1, :n) g RETURNING id, published_at), "
                "d AS (INSERT INTO deliveries (id, event_id, destination_id, status) "
                "SELECT eventrouter_delivery_id(published_at), id, :d, 'succeeded' FROM e "
                "RETURNING id) "
                "INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, "
                "duration_ms, outcome) SELECT id, 1, now(), 5, 'succeeded' FROM d"
            ),
            {"n": MANY, "d": destination, "now": now, "weeks": WEEKS},
        )
    with seed.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE events, deliveries, delivery_attempts")
    return sorted({week_start(day) for day in days})


def partitions_read(plan: dict[str, Any]) -> set[str]:
    """The history partitions an executed plan really read (a node of a pruned-at-run-time
    or never reached branch has no loops)."""
    return {
        node["Relation Name"]
        for node in nodes(plan)
        if node.get("Relation Name", "").startswith(("events_", "deliveries_", "delivery_att"))
        and node.get("Actual Loops", 0) > 0
    }


def week_partitions(week: int) -> set[str]:
    suffix = suffix_of_day(week)
    return {f"events_{suffix}", f"deliveries_{suffix}", f"delivery_attempts_{suffix}"}


def test_show_event_and_show_delivery_read_one_week_in_one_statement(seed: Seed) -> None:
    _, destination, _ = seed.route(".*", "http://127.0.0.1:9/")
    middle = weeks_of_history(seed, destination)[1]
    published = (middle + 3) * SECONDS_PER_DAY
    event_id = event_id_at(published)
    seed.engine.dispose()
    with seed.engine.begin() as conn:
        conn.execute(
            text(
                "WITH e AS (INSERT INTO events (id, name, org, payload, published_at) "
                "VALUES (:e, 'x', 'default', '{}', to_timestamp(:at)) RETURNING published_at), "
                "d AS (INSERT INTO deliveries (id, event_id, destination_id, status) "
                "SELECT eventrouter_delivery_id(published_at), :e, :d, 'failed' FROM e "
                "RETURNING id) "
                "INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, "
                "duration_ms, outcome) SELECT id, 1, now(), 5, 'failed' FROM d"
            ),
            {"e": event_id, "d": destination, "at": published},
        )
    delivery = (
        seed.engine.connect()
        .execute(text("SELECT id FROM deliveries WHERE event_id = :e"), {"e": event_id})
        .scalar_one()
    )

    calls: dict[str, Callable[[Connection], object]] = {
        "show EVENT": lambda conn: details.event_detail(conn, "default", event_id),
        "show DELIVERY": lambda conn: details.delivery_detail(conn, "default", delivery),
    }
    for name, call in calls.items():
        (plan,) = plans(seed.engine, call, analyze=True)
        read = partitions_read(plan)
        assert read and read <= week_partitions(middle), (name, read)


def test_a_name_filter_reads_each_names_newest_events_from_the_name_index(seed: Seed) -> None:
    """Events by (name, received_at), a page per name at most: bounded however rare the
    names, where a scan in time order reads past every other name's events, and
    ``name = ANY(...)`` over several names yields them in no order (all sorted)."""
    with seed.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO events (id, name, org, payload, published_at, received_at) "
                "SELECT gen_random_uuid(), 'bulk-' || (g % 100), 'default', '{}', now(), "
                "now() - g * interval '1 second' FROM generate_series(1, :n) g"
            ),
            {"n": MANY},
        )
    with seed.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE events")

    def call(conn: Connection) -> object:
        return history.history(
            conn, "default", limit=51, hide_system=True, names=["bulk-1", "bulk-2"]
        )

    (plan,) = plans(seed.engine, call, analyze=True)
    scans = [
        node
        for node in nodes(plan)
        if node.get("Relation Name", "").startswith("events_") and node["Actual Loops"] > 0
    ]
    assert scans
    for node in scans:
        assert node["Node Type"] in ("Index Scan", "Index Only Scan"), node
        assert "name" in node.get("Index Cond", ""), (node["Index Name"], node["Actual Rows"])
        assert node["Actual Rows"] <= 51 * node["Actual Loops"], node
    found = call(seed.engine.connect())
    assert isinstance(found, list) and len(found) == 51
    assert [e.name for e in found[:4]] == ["bulk-1", "bulk-2", "bulk-1", "bulk-2"]


def test_a_name_filter_pages_newest_first_with_and_without_a_status(seed: Seed) -> None:
    _, destination, _ = seed.route(".*", "http://127.0.0.1:9/")
    with seed.engine.begin() as conn:
        conn.execute(
            text(
                "WITH e AS (INSERT INTO events (id, name, org, payload, published_at, "
                "received_at) SELECT gen_random_uuid(), 'n-' || (g % 3), 'default', '{}', "
                "now(), now() - g * interval '1 second' FROM generate_series(1, 30) g "
                "RETURNING id, name, received_at) "
                "INSERT INTO deliveries (event_id, destination_id, status) "
                "SELECT id, :d, CASE WHEN extract(epoch FROM received_at)::bigint % 2 = 0 "
                "THEN 'failed' ELSE 'succeeded' END FROM e"
            ),
            {"d": destination},
        )
        expected = {
            status: [
                row.id
                for row in conn.execute(
                    text(
                        "SELECT CAST(e.id AS text) AS id FROM events e "
                        "JOIN deliveries d ON d.event_id = e.id "
                        "WHERE e.name IN ('n-0', 'n-2') "
                        "AND (CAST(:s AS text) IS NULL OR d.status = CAST(:s AS text)) "
                        "ORDER BY e.received_at DESC, e.id DESC"
                    ),
                    {"s": status},
                )
            ]
            for status in (None, "failed")
        }
        for status, ids in expected.items():
            first = history.history(conn, "default", limit=4, names=["n-0", "n-2"], status=status)
            assert [e.id for e in first] == ids[:4], status
            last = first[-1]
            after = (last.received_at, last.id)
            rest = history.history(
                conn, "default", limit=50, names=["n-0", "n-2"], status=status, after=after
            )
            assert [e.id for e in first + rest] == ids, status
            assert all(e.total == 1 for e in first + rest)
            assert status is None or all(e.failed == 1 for e in first + rest)
