"""Week partitions of the history and retention, on real Postgres: what a prune drops and
keeps, events for weeks that do not exist yet, replays and idempotency keys across weeks,
the migration from plain tables and back, and the ``db prune`` command."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, text

from eventrouter.router.db import make_engine
from eventrouter.router.db.ingest import PlannedRow, insert_deliveries
from eventrouter.router.db.migrate import (
    alembic_config,
    create_database_if_missing,
    drop_database,
    upgrade,
)
from eventrouter.router.db.partitions import ensure_weeks
from eventrouter.router.events import Event, keyed_event_id
from eventrouter.router.partitions import PartitionKeeper
from eventrouter.router.retention import SECONDS_PER_DAY, date_of_day, day_of_time, week_start
from eventrouter.router.settings import Settings
from eventrouter.router.store import EventStore
from tests.conftest import POSTGRES_SERVER_URL
from tests.helpers import Seed, rows, scalar
from tests.integration.conftest import Run

DAY = SECONDS_PER_DAY


def event_id_at(seconds: float) -> str:
    """A UUIDv7 for a moment (what ``new_event_id`` makes for now)."""
    digits = f"{int(seconds * 1000):012x}7{secrets.token_hex(2)[1:]}8{secrets.token_hex(8)[1:]}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def counts(engine: Engine) -> tuple[int, int, int]:
    return (
        scalar(engine, "SELECT count(*) FROM events"),
        scalar(engine, "SELECT count(*) FROM deliveries"),
        scalar(engine, "SELECT count(*) FROM delivery_attempts"),
    )


def week_of(day: int) -> date:
    """The Monday naming the week (and its partitions) that holds ``day``."""
    return date_of_day(week_start(day))


def create_weeks(engine: Engine, *days: int) -> int:
    with engine.begin() as conn:
        return ensure_weeks(conn, days)


def history_at(seed: Seed, destination: int, seconds: float, status: str) -> str:
    """An event published at ``seconds`` with one delivery (``status``) and one attempt."""
    event_id = event_id_at(seconds)
    with seed.engine.begin() as conn:
        conn.execute(
            text(
                "WITH e AS (INSERT INTO events (id, name, org, payload, published_at) "
                "VALUES (:e, 'x', 'default', '{}', to_timestamp(:at)) RETURNING published_at), "
                "d AS (INSERT INTO deliveries (id, event_id, destination_id, status) "
                "SELECT eventrouter_delivery_id(published_at), :e, :d, :s FROM e RETURNING id) "
                "INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, "
                "duration_ms, outcome) SELECT id, 1, now(), 5, 'retry' FROM d"
            ),
            {"e": event_id, "d": destination, "s": status, "at": seconds},
        )
    return event_id


def test_prune_drops_whole_old_weeks_and_keeps_a_week_with_open_deliveries(
    clean_db: Engine, seed: Seed
) -> None:
    now = time.time()
    today = day_of_time(now)
    old, older = today - 36, today - 50  # two weeks apart: two different weeks
    keeper = PartitionKeeper(clean_db)
    create_weeks(clean_db, old, older)
    _, destination, _ = seed.route(".*", "http://127.0.0.1:9/")
    acked = history_at(seed, destination, older * DAY + 10, "succeeded")
    history_at(seed, destination, older * DAY + 20, "failed")
    with clean_db.begin() as conn:  # rows of other tables that name an event go with it
        conn.execute(
            text(
                "INSERT INTO acknowledgements (event_id, org, acked_by_id, acked_by_name, via) "
                "VALUES (:e, 'default', 'U1', 'Ann', 'button')"
            ),
            {"e": acked},
        )
    open_event = history_at(seed, destination, old * DAY + 10, "pending")
    history_at(seed, destination, now, "succeeded")

    # Partitions outlive the rows other tests stored in them: other old weeks may be there.
    planned = keeper.plan(20 * DAY, now)
    assert week_of(older) in planned.dropped and week_of(old) not in planned.dropped
    assert counts(clean_db) == (4, 4, 4)  # a plan changes nothing

    report = keeper.prune(20 * DAY, now)
    assert week_of(older) in report.dropped and week_of(old) not in report.dropped
    assert report.kept_open == {week_of(old): 1}
    assert report.freed_bytes > 0
    assert counts(clean_db) == (2, 2, 2)
    assert scalar(clean_db, "SELECT count(*) FROM acknowledgements") == 0
    gone = f"events_{week_of(older):p%Y%m%d}"
    assert scalar(clean_db, "SELECT to_regclass(:n)", n=gone) is None

    # Once the last open delivery of the week has finished, the next prune drops it.
    with clean_db.begin() as conn:
        conn.execute(
            text("UPDATE deliveries SET status = 'succeeded' WHERE event_id = :e"),
            {"e": open_event},
        )
    assert week_of(old) in keeper.prune(20 * DAY, now).dropped
    assert counts(clean_db) == (1, 1, 1)


def test_prune_gives_up_on_a_busy_week_and_drops_it_next_time(clean_db: Engine, seed: Seed) -> None:
    now = time.time()
    old = day_of_time(now) - 10
    keeper = PartitionKeeper(clean_db, lock_timeout=0.2)
    create_weeks(clean_db, old)
    _, destination, _ = seed.route(".*", "http://127.0.0.1:9/")
    history_at(seed, destination, old * DAY + 5, "succeeded")
    with clean_db.connect() as reader:
        reader.execute(text("SELECT count(*) FROM events"))  # holds a lock until rollback
        report = keeper.prune(2 * DAY, now)
        assert week_of(old) in report.busy and week_of(old) not in report.dropped
        reader.rollback()
    assert week_of(old) in keeper.prune(2 * DAY, now).dropped


def test_an_event_of_a_missing_week_is_kept_and_moves_into_its_week_when_created(
    clean_db: Engine, seed: Seed
) -> None:
    far = day_of_time(time.time()) + 30  # beyond what is created ahead or on demand
    _, destination, _ = seed.route(".*", "http://127.0.0.1:9/")
    event_id = history_at(seed, destination, far * DAY + 60, "pending")
    assert scalar(clean_db, "SELECT count(*) FROM events_default") == 1
    assert scalar(clean_db, "SELECT count(*) FROM delivery_attempts_default") == 1

    assert create_weeks(clean_db, far) == 1
    suffix = f"{week_of(far):p%Y%m%d}"
    assert scalar(clean_db, f"SELECT count(*) FROM events_{suffix} WHERE id = :e", e=event_id)
    assert scalar(clean_db, f"SELECT count(*) FROM deliveries_{suffix}") == 1
    assert scalar(clean_db, f"SELECT count(*) FROM delivery_attempts_{suffix}") == 1
    assert scalar(clean_db, "SELECT count(*) FROM events_default") == 0
    with clean_db.begin() as conn:  # other tests expect only the weeks created ahead
        conn.exec_driver_sql(
            f"DROP TABLE delivery_attempts_{suffix}, deliveries_{suffix}, events_{suffix}"
        )


def test_the_store_creates_a_missing_week_before_storing_its_events(clean_db: Engine) -> None:
    store = EventStore(clean_db)
    late = day_of_time(time.time()) + 7  # in the last week created ahead: drop it first
    suffix = f"{week_of(late):p%Y%m%d}"
    with clean_db.begin() as conn:
        conn.exec_driver_sql(
            f"DROP TABLE delivery_attempts_{suffix}, deliveries_{suffix}, events_{suffix}"
        )
    event_id = event_id_at(late * DAY + 1)
    entry = json.dumps(
        {"id": event_id, "name": "x", "org": "default", "payload": {}, "published_at": late * DAY}
    )
    store.store([(b"1-1", {b"event": entry.encode()})])
    assert scalar(clean_db, f"SELECT count(*) FROM events_{suffix}") == 1


def test_a_replayed_event_gets_no_second_delivery(clean_db: Engine, seed: Seed) -> None:
    _, destination, subscription = seed.route(".*", "http://127.0.0.1:9/")
    event_id = seed.event()
    planned = [PlannedRow(event_id, destination, subscription)]
    published_at = {event_id: time.time()}
    with clean_db.begin() as conn:
        first = insert_deliveries(conn, planned, published_at)
        again = insert_deliveries(conn, planned, published_at)
    assert len(first) == 1 and again == []
    (delivery_id,) = first[0][:1]
    assert delivery_id >> 40 == day_of_time(time.time())  # in its event's day


def test_an_idempotency_key_holds_across_weeks(clean_db: Engine) -> None:
    store = EventStore(clean_db)
    today = day_of_time(time.time())
    first, later = (
        Event(
            id=event_id_at((today + n) * DAY + 5),
            published_at=(today + n) * DAY + 5,  # this week and the next
            name="x",
            org="default",
            env=None,
            payload={},
            idempotency_key="k-1",
        )
        for n in (0, 7)
    )
    with clean_db.begin() as conn:
        store.persist(conn, [first], [])
    with clean_db.begin() as conn:
        result = store.persist(conn, [later], [])
    assert result.duplicates == 1
    assert (
        rows(
            clean_db, "SELECT CAST(duplicate_of AS text) AS d FROM events WHERE id = :i", i=later.id
        )[0].d
        == first.id
    )


def test_a_key_published_again_in_another_week_is_stored_once(clean_db: Engine, seed: Seed) -> None:
    """Ids of keyed events derive from the key, so a repeat carries the first one's id
    with a later publish time: another week's partition, where nothing would conflict."""
    seed.route(".*", "http://127.0.0.1:9/")
    store = EventStore(clean_db)
    store.refresh_routing_table()
    today = day_of_time(time.time())
    event_id = keyed_event_id("default", "invoice-7")
    for n in (0, 7):
        entry = json.dumps(
            {
                "id": event_id,
                "name": "x",
                "org": "default",
                "payload": {},
                "idempotency_key": "invoice-7",
                "published_at": (today + n) * DAY + 5,
            }
        )
        store.store([(f"{n}-1".encode(), {b"event": entry.encode()})])
    assert counts(clean_db)[:2] == (1, 1)


# -- the migration --------------------------------------------------------------------
@pytest.fixture
def plain_database() -> Iterator[str]:
    """A database of its own at revision 0009 (before partitioning); dropped afterwards."""
    name = f"er_retention_{secrets.token_hex(5)}"
    url = f"{POSTGRES_SERVER_URL}/{name}"
    create_database_if_missing(url)
    try:
        upgrade(url, "0009")
        yield url
    finally:
        drop_database(url)


_SEED_0009 = """
INSERT INTO destinations (org, name, kind, config) VALUES ('o', 'd', 'webhook', '{}');
INSERT INTO subscriptions (org, name) VALUES ('o', 's');
INSERT INTO events (id, name, org, payload, idempotency_key, published_at)
SELECT (CAST(:ids AS uuid[]))[g], 'e', 'o', '{}', 'k' || g, to_timestamp((CAST(:at AS float8[]))[g])
FROM generate_series(1, cardinality(CAST(:ids AS uuid[]))) g;
INSERT INTO events (id, name, org, payload) VALUES (gen_random_uuid(), 'no time', 'o', '{}');
INSERT INTO events (id, name, org, payload, published_at)
VALUES (gen_random_uuid(), 'long ago', 'o', '{}', now() - interval '20 years');
INSERT INTO deliveries (event_id, destination_id, subscription_id, status)
SELECT id, 1, 1, 'succeeded' FROM events;
INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms, outcome)
SELECT id, n, now(), n, 'retry' FROM deliveries, generate_series(1, 3) n;
INSERT INTO system_events (org, name, payload)
SELECT 'o', 'delivery:failed', jsonb_build_object('delivery_id', min(id)) FROM deliveries;
"""

_JOINED = """
SELECT e.id::text || ':' || a.attempt_number || ':' || a.duration_ms
FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
JOIN events e ON e.id = d.event_id ORDER BY 1
"""


def test_migration_keeps_every_row_and_downgrades(plain_database: str) -> None:
    from alembic import command

    engine = make_engine(plain_database, pool_size=1)
    now = time.time()
    times = [now - n * 0.4 * DAY for n in range(60)]  # 24 days of history
    ids = [event_id_at(at) for at in times]
    with engine.begin() as conn:
        for statement in _SEED_0009.strip().split(";\n"):
            conn.execute(text(statement), {"ids": ids, "at": times})
    before = counts(engine), [r[0] for r in rows(engine, _JOINED)]
    old_first = scalar(engine, "SELECT min(id) FROM deliveries")

    upgrade(plain_database)
    assert (counts(engine), [r[0] for r in rows(engine, _JOINED)]) == before
    assert scalar(engine, "SELECT count(*) FROM events_default") == 1  # 20 years ago
    # Every delivery sits in its event's day; the old id is still its low bits.
    misplaced = (
        "SELECT count(*) FROM deliveries d JOIN events e ON e.id = d.event_id "
        "WHERE d.id >> 40 <> eventrouter_day(e.published_at)"
    )
    assert scalar(engine, misplaced) == 0
    new_first = scalar(engine, "SELECT payload->>'delivery_id' FROM system_events")
    assert int(new_first) & (2**40 - 1) == old_first
    assert scalar(engine, "SELECT count(*) FROM deliveries WHERE id = :i", i=int(new_first)) == 1

    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0009")
    assert (counts(engine), [r[0] for r in rows(engine, _JOINED)]) == before
    with engine.begin() as conn:  # the plain tables take new rows again
        conn.execute(text("INSERT INTO deliveries (event_id) SELECT id FROM events LIMIT 1"))
    upgrade(plain_database)
    assert counts(engine)[1] == before[0][1] + 1
    engine.dispose()


# -- the command ------------------------------------------------------------------------
def test_db_prune_command(run: Run, clean_db: Engine, seed: Seed) -> None:
    now = time.time()
    old = day_of_time(now) - 45
    create_weeks(clean_db, old)
    _, destination, _ = seed.route(".*", "http://127.0.0.1:9/")
    history_at(seed, destination, old * DAY + 5, "succeeded")

    dry = run("db", "prune", "--older-than", "30d", "--dry-run", "--json")
    assert dry.code == 0, dry
    document = json.loads(dry.out)
    assert document["dry_run"] and str(week_of(old)) in document["dropped"]
    assert counts(clean_db) == (1, 1, 1)

    done = run("db", "prune", "--older-than", "30d")
    assert done.code == 0, done
    assert "week(s) of history that ended more than 30d ago" in done.out, done.out
    assert str(week_of(old)) in done.out
    assert counts(clean_db) == (0, 0, 0)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--older-than", "12h"], "give at least 1d"),
        (["--older-than", "soon"], "'soon' is not a duration"),
        ([], "give --older-than (e.g. 30d) or set EVENTROUTER_RETENTION"),
    ],
)
def test_db_prune_refuses_bad_periods(run: Run, args: list[str], fragment: str) -> None:
    result = run("db", "prune", *args)
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and fragment in lines[0], result.err


def test_router_creates_the_weeks_ahead_and_applies_the_retention(
    clean_db: Engine, settings: Settings, seed: Seed
) -> None:
    from eventrouter.router.scheduler import Scheduler
    from tests.helpers import RecordingDispatcher

    today = day_of_time(time.time())
    ahead = f"{week_of(today + 7):p%Y%m%d}"
    old = today - 10
    with clean_db.begin() as conn:
        conn.exec_driver_sql(
            f"DROP TABLE delivery_attempts_{ahead}, deliveries_{ahead}, events_{ahead}"
        )
    create_weeks(clean_db, old)
    _, destination, _ = seed.route(".*", "http://127.0.0.1:9/")
    history_at(seed, destination, old * DAY + 5, "succeeded")

    scheduler = Scheduler(
        settings.model_copy(update={"retention": "2d"}), clean_db, RecordingDispatcher()
    )
    scheduler.maintain_history()
    assert scalar(clean_db, "SELECT to_regclass(:n)", n=f"events_{ahead}") is not None
    assert counts(clean_db) == (0, 0, 0)
