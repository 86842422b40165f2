"""The router process on real Redis + Postgres; only Celery is replaced (by a recorder)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

import eventrouter
from eventrouter.router.events import STREAM_FIELD, build_envelope, new_event_id
from eventrouter.router.service import RouterService
from eventrouter.router.settings import Settings
from eventrouter.router.stream import GROUP
from tests.cut_proxy import CutProxy
from tests.helpers import RecordingDispatcher, Seed, rows, scalar
from tests.receiver import wait_for

MakeService = Callable[..., RouterService]


@pytest.fixture
def make_service(
    settings: Settings, clean_db: Engine, dispatcher: RecordingDispatcher
) -> MakeService:
    def make(**kwargs: Any) -> RouterService:
        kwargs.setdefault("engine", clean_db)
        kwargs.setdefault("dispatcher", dispatcher)
        kwargs.setdefault("consumer", "test-router")
        service = RouterService(kwargs.pop("settings", settings), **kwargs)
        service.reader.ensure_group()
        return service

    return make


@pytest.fixture
def service(make_service: MakeService) -> RouterService:
    return make_service()


def drain(service: RouterService, max_steps: int = 50) -> int:
    """Step until the stream has nothing more for this router; return entries handled."""
    total = 0
    for _ in range(max_steps):
        handled = service.step()
        total += handled
        if handled == 0:
            return total
    raise AssertionError("the router kept finding entries")


def xadd_raw(conn: redis.Redis, stream: str, fields: dict[str | bytes, Any]) -> str:
    return conn.xadd(stream, fields).decode()  # type: ignore[no-any-return]


def raw_envelope(**overrides: Any) -> str:
    data: dict[str, Any] = {
        "id": new_event_id(),
        "name": "payment:failed",
        "org": "default",
        "env": None,
        "idempotency_key": None,
        "published_at": 1_767_225_600.0,
        "payload": {"ok": True},
    }
    for key, value in overrides.items():
        if value is ...:
            data.pop(key)
        else:
            data[key] = value
    return json.dumps(data)


def deliveries(engine: Engine) -> list[Any]:
    return rows(
        engine,
        "SELECT id, event_id::text AS event_id, destination_id, subscription_id, status, "
        "attempt_count, dispatched_at FROM deliveries ORDER BY id",
    )


def stream_is_empty(conn: redis.Redis, settings: Settings) -> bool:
    pending = conn.xpending(settings.stream, GROUP)["pending"]
    return conn.xlen(settings.stream) == 0 and pending == 0


# -- storing and planning -------------------------------------------------------------
def test_events_are_stored_with_their_payload(
    service: RouterService, settings: Settings, clean_db: Engine
) -> None:
    event_id = eventrouter.publish(
        "payment:failed",
        {"invoice": "in_1", "amount": 4200, "nested": {"é": [1, None]}},
        env="prod",
        settings=settings,
    )
    assert drain(service) == 1
    (row,) = rows(clean_db, "SELECT * FROM events")
    assert str(row.id) == event_id
    assert (row.name, row.org, row.env) == ("payment:failed", "default", "prod")
    assert row.payload == {"invoice": "in_1", "amount": 4200, "nested": {"é": [1, None]}}
    assert row.published_at is not None and row.received_at >= row.published_at
    assert row.idempotency_key is None and row.duplicate_of is None


def test_deliveries_are_planned_per_subscription_and_dispatched(
    service: RouterService,
    settings: Settings,
    seed: Seed,
    clean_db: Engine,
    dispatcher: RecordingDispatcher,
) -> None:
    payments = seed.channel("payment:.*")
    failures = seed.channel(".*:failed")
    hook_a = seed.destination("http://127.0.0.1:9/a")
    hook_b = seed.destination("http://127.0.0.1:9/b")
    sub_a = seed.subscription([payments], [hook_a])
    sub_b = seed.subscription([failures], [hook_b])

    paid = eventrouter.publish("payment:succeeded", {}, settings=settings)
    failed = eventrouter.publish("run:failed", {}, settings=settings)
    both = eventrouter.publish("payment:failed", {}, settings=settings)
    drain(service)

    planned = {(d.event_id, d.destination_id, d.subscription_id) for d in deliveries(clean_db)}
    assert planned == {
        (paid, hook_a, sub_a),
        (failed, hook_b, sub_b),
        (both, hook_a, sub_a),
        (both, hook_b, sub_b),
    }
    assert all(d.status == "pending" and d.attempt_count == 0 for d in deliveries(clean_db))
    assert all(d.dispatched_at is not None for d in deliveries(clean_db))
    assert sorted(dispatcher.pairs) == sorted(
        (d.id, d.destination_id) for d in deliveries(clean_db)
    )


def test_two_subscriptions_to_one_destination_make_one_delivery(
    service: RouterService, settings: Settings, seed: Seed, clean_db: Engine
) -> None:
    channel = seed.channel("payment:.*")
    other = seed.channel(".*:failed")
    hook = seed.destination()
    first = seed.subscription([channel], [hook])
    seed.subscription([other], [hook])
    eventrouter.publish("payment:failed", {}, settings=settings)
    drain(service)
    (delivery,) = deliveries(clean_db)
    assert (delivery.destination_id, delivery.subscription_id) == (hook, first)


def test_env_scoped_subscription(
    service: RouterService, settings: Settings, seed: Seed, clean_db: Engine
) -> None:
    channel = seed.channel("deploy:.*")
    prod_hook = seed.destination()
    seed.subscription([channel], [prod_hook], env="prod")
    in_prod = eventrouter.publish("deploy:done", env="prod", settings=settings)
    eventrouter.publish("deploy:done", env="dev", settings=settings)
    eventrouter.publish("deploy:done", settings=settings)
    drain(service)
    assert [d.event_id for d in deliveries(clean_db)] == [in_prod]
    assert scalar(clean_db, "SELECT count(*) FROM events") == 3


def test_unmatched_events_are_stored_with_no_deliveries(
    service: RouterService,
    settings: Settings,
    seed: Seed,
    clean_db: Engine,
    dispatcher: RecordingDispatcher,
) -> None:
    seed.route("payment:.*", "http://127.0.0.1:9/hook")
    event_id = eventrouter.publish("metric:accuracy", {"value": 0.93}, settings=settings)
    drain(service)
    (summary,) = rows(clean_db, "SELECT * FROM event_delivery_summary")
    assert str(summary.event_id) == event_id
    assert (summary.total, summary.succeeded, summary.pending, summary.failed) == (0, 0, 0, 0)
    assert dispatcher.calls == []


def test_summary_view_counts_planned_deliveries(
    service: RouterService, settings: Settings, seed: Seed, clean_db: Engine
) -> None:
    channel = seed.channel(".*")
    seed.subscription([channel], [seed.destination(), seed.destination()])
    eventrouter.publish("x", settings=settings)
    drain(service)
    (summary,) = rows(clean_db, "SELECT * FROM event_delivery_summary")
    assert (summary.total, summary.pending, summary.succeeded) == (2, 2, 0)


def test_disabled_destination_gets_no_deliveries(
    service: RouterService, settings: Settings, seed: Seed, clean_db: Engine
) -> None:
    channel = seed.channel(".*")
    live = seed.destination()
    off = seed.destination(enabled=False)
    seed.subscription([channel], [live, off])
    eventrouter.publish("x", settings=settings)
    drain(service)
    assert [d.destination_id for d in deliveries(clean_db)] == [live]


def test_a_batch_larger_than_the_read_size_is_stored_completely(
    make_service: MakeService, settings: Settings, seed: Seed, clean_db: Engine
) -> None:
    service = make_service(settings=settings.model_copy(update={"router_batch_size": 7}))
    seed.route("bulk:.*", "http://127.0.0.1:9/hook")
    ids = eventrouter.publish_many([("bulk:item", {"i": i}) for i in range(30)], settings=settings)
    assert drain(service) == 30
    stored = {str(r.id) for r in rows(clean_db, "SELECT id FROM events")}
    assert stored == set(ids)
    assert scalar(clean_db, "SELECT count(*) FROM deliveries") == 30


# -- stream hygiene ----------------------------------------------------------------------
def test_entries_are_acked_and_deleted_after_commit(
    service: RouterService, settings: Settings, redis_conn: redis.Redis, clean_db: Engine
) -> None:
    eventrouter.publish_many([("a", {}), ("b", {}), ("c", {})], settings=settings)
    assert redis_conn.xlen(settings.stream) == 3
    drain(service)
    assert scalar(clean_db, "SELECT count(*) FROM events") == 3
    assert stream_is_empty(redis_conn, settings)


def test_malformed_entries_are_rejected_and_acked_while_good_ones_are_stored(
    service: RouterService,
    settings: Settings,
    seed: Seed,
    clean_db: Engine,
    redis_conn: redis.Redis,
) -> None:
    seed.route(".*", "http://127.0.0.1:9/hook")
    stream = settings.stream
    bad = {
        xadd_raw(redis_conn, stream, {"event": "not json"}): "not valid JSON",
        xadd_raw(redis_conn, stream, {"payload": "{}"}): "no 'event' field (fields: payload)",
        xadd_raw(redis_conn, stream, {"event": raw_envelope(name="bad name")}): "event name",
        xadd_raw(redis_conn, stream, {"event": raw_envelope(id=...)}): "no valid id",
        xadd_raw(redis_conn, stream, {"event": raw_envelope(payload=[1, 2])}): "JSON object",
        xadd_raw(redis_conn, stream, {"event": raw_envelope(org=5)}): "org",
        xadd_raw(redis_conn, stream, {"event": "[1]"}): "not a JSON object",
    }
    good_id = eventrouter.publish("payment:failed", {"fine": True}, settings=settings)
    drain(service)

    rejected = {r.stream_id: r for r in rows(clean_db, "SELECT * FROM rejected_events")}
    assert set(rejected) == set(bad)
    for stream_id, reason in bad.items():
        assert reason in rejected[stream_id].reason
    assert rejected[next(iter(bad))].raw == "not json"
    assert [str(r.id) for r in rows(clean_db, "SELECT id FROM events")] == [good_id]
    assert len(deliveries(clean_db)) == 1
    assert stream_is_empty(redis_conn, settings)


def test_rejected_raw_text_is_truncated(
    service: RouterService, settings: Settings, clean_db: Engine, redis_conn: redis.Redis
) -> None:
    xadd_raw(redis_conn, settings.stream, {"event": "x" * 100_000})
    drain(service)
    (rejected,) = rows(clean_db, "SELECT raw FROM rejected_events")
    assert 0 < len(rejected.raw) <= 4096


@pytest.mark.parametrize(
    ("envelope", "reason"),
    [
        # Postgres cannot store these; before validation caught them, one such entry made
        # every transaction fail and the router replayed it forever.
        (raw_envelope(payload={"text": "a\u0000b"}), "NUL"),
        (raw_envelope(idempotency_key="a\u0000b"), "idempotency_key"),
        (raw_envelope(idempotency_key=""), "idempotency_key"),
    ],
)
def test_poison_entries_do_not_block_the_stream(
    service: RouterService,
    settings: Settings,
    clean_db: Engine,
    redis_conn: redis.Redis,
    envelope: str,
    reason: str,
) -> None:
    xadd_raw(redis_conn, settings.stream, {"event": envelope})
    good_id = eventrouter.publish("after:poison", settings=settings)
    drain(service)
    (rejected,) = rows(clean_db, "SELECT reason FROM rejected_events")
    assert reason in rejected.reason
    assert [str(r.id) for r in rows(clean_db, "SELECT id FROM events")] == [good_id]
    assert stream_is_empty(redis_conn, settings)


@pytest.mark.parametrize("published_at", ["NaN", "Infinity", "1e300", "-1e300"])
def test_unusable_published_at_is_replaced_not_fatal(
    service: RouterService,
    settings: Settings,
    clean_db: Engine,
    redis_conn: redis.Redis,
    published_at: str,
) -> None:
    # Python's json reads NaN/Infinity; a timestamp out of datetime's range used to crash
    # the router loop (not a Redis or Postgres error, so nothing caught it).
    event_id = new_event_id()
    text = raw_envelope(id=event_id).replace("1767225600.0", published_at)
    assert published_at in text
    xadd_raw(redis_conn, settings.stream, {"event": text})
    drain(service)
    (row,) = rows(clean_db, "SELECT id, published_at, received_at FROM events")
    assert str(row.id) == event_id
    assert abs((row.received_at - row.published_at).total_seconds()) < 60
    assert stream_is_empty(redis_conn, settings)


# -- idempotency --------------------------------------------------------------------------
def test_replayed_entry_in_one_batch_is_stored_once(
    service: RouterService,
    settings: Settings,
    seed: Seed,
    clean_db: Engine,
    redis_conn: redis.Redis,
    dispatcher: RecordingDispatcher,
) -> None:
    seed.route(".*", "http://127.0.0.1:9/hook")
    event_id, entry = build_envelope(
        "payment:failed", {"a": 1}, org="default", env=None, idempotency_key=None
    )
    for _ in range(2):
        redis_conn.xadd(settings.stream, {STREAM_FIELD: entry})
    drain(service)
    assert [str(r.id) for r in rows(clean_db, "SELECT id FROM events")] == [event_id]
    assert len(deliveries(clean_db)) == 1
    assert len(dispatcher.pairs) == 1
    assert stream_is_empty(redis_conn, settings)


def test_replayed_entry_in_a_later_batch_plans_nothing_new(
    service: RouterService,
    settings: Settings,
    seed: Seed,
    clean_db: Engine,
    redis_conn: redis.Redis,
    dispatcher: RecordingDispatcher,
) -> None:
    seed.route(".*", "http://127.0.0.1:9/hook")
    _, entry = build_envelope("x", {}, org="default", env=None, idempotency_key=None)
    redis_conn.xadd(settings.stream, {STREAM_FIELD: entry})
    drain(service)
    dispatcher.clear()

    redis_conn.xadd(settings.stream, {STREAM_FIELD: entry})
    entries = service.reader.read()
    result = service.handle(entries)
    assert (result.events, result.replayed, result.deliveries) == (0, 1, [])
    assert scalar(clean_db, "SELECT count(*) FROM events") == 1
    assert len(deliveries(clean_db)) == 1
    assert dispatcher.calls == []
    assert stream_is_empty(redis_conn, settings)


def test_a_repeated_idempotency_key_returns_the_first_id_and_is_delivered_once(
    service: RouterService,
    settings: Settings,
    seed: Seed,
    clean_db: Engine,
    redis_conn: redis.Redis,
    dispatcher: RecordingDispatcher,
) -> None:
    seed.route(".*", "http://127.0.0.1:9/hook")
    first = eventrouter.publish("charge", {"n": 1}, idempotency_key="charge-42", settings=settings)
    drain(service)
    # One repeat in a later call, two in one batch, and the same key in another org.
    again = eventrouter.publish("charge", {"n": 2}, idempotency_key="charge-42", settings=settings)
    batch = eventrouter.publish_many(
        [
            {"name": "charge", "idempotency_key": "charge-42"},
            {"name": "charge", "idempotency_key": "charge-42"},
            {"name": "charge", "idempotency_key": "charge-42", "org": "acme"},
        ],
        settings=settings,
    )
    assert again == batch[0] == batch[1] == first
    assert batch[2] != first  # keys are per org
    assert redis_conn.xlen(settings.stream) == 1  # Redis remembered the key: only acme's
    drain(service)
    stored = {str(r.id): r for r in rows(clean_db, "SELECT * FROM events")}
    assert set(stored) == {first, batch[2]}
    assert stored[first].payload == {"n": 1}  # the first event is the one kept
    assert [d.event_id for d in deliveries(clean_db)] == [first]  # acme has no subscription
    assert len(dispatcher.pairs) == 1


def test_a_repeat_after_redis_forgot_the_key_is_recognised_by_its_id(
    service: RouterService,
    settings: Settings,
    seed: Seed,
    clean_db: Engine,
    redis_conn: redis.Redis,
    dispatcher: RecordingDispatcher,
) -> None:
    seed.route(".*", "http://127.0.0.1:9/hook")
    forgetful = settings.model_copy(update={"idempotency_key_ttl": "0"})
    first = eventrouter.publish("charge", idempotency_key="k", settings=forgetful)
    drain(service)
    again = eventrouter.publish("charge", idempotency_key="k", settings=forgetful)
    assert again == first
    assert redis_conn.xlen(forgetful.stream) == 1  # it reached the stream this time
    result = service.handle(service.reader.read())
    assert (result.events, result.replayed) == (0, 1)
    assert scalar(clean_db, "SELECT count(*) FROM events") == 1
    assert len(dispatcher.pairs) == 1


def test_entries_of_older_producers_sharing_a_key_point_at_the_first(
    service: RouterService,
    settings: Settings,
    seed: Seed,
    clean_db: Engine,
    redis_conn: redis.Redis,
) -> None:
    """Producers from before keyed ids gave every event a fresh id: the router still
    stores their repeats as duplicates of the first, without deliveries."""
    seed.route(".*", "http://127.0.0.1:9/hook")
    ids = [new_event_id() for _ in range(3)]
    for event_id in ids:
        _, entry = build_envelope("charge", {}, org="default", env=None, idempotency_key="k")
        entry = json.dumps({**json.loads(entry), "id": event_id})
        redis_conn.xadd(settings.stream, {STREAM_FIELD: entry})
    drain(service)
    stored = {str(r.id): r.duplicate_of for r in rows(clean_db, "SELECT * FROM events")}
    assert stored[ids[0]] is None
    assert str(stored[ids[1]]) == str(stored[ids[2]]) == ids[0]
    assert [d.event_id for d in deliveries(clean_db)] == [ids[0]]


# -- config changes ---------------------------------------------------------------------
def test_config_changes_are_picked_up_by_refresh(
    service: RouterService, settings: Settings, seed: Seed, clean_db: Engine
) -> None:
    assert service.store.refresh_routing_table() is True
    assert service.store.refresh_routing_table() is False  # nothing changed
    eventrouter.publish("payment:failed", settings=settings)
    drain(service)
    assert deliveries(clean_db) == []

    _, hook, _ = seed.route("payment:.*", "http://127.0.0.1:9/hook")
    assert service.store.refresh_routing_table() is True
    second = eventrouter.publish("payment:failed", settings=settings)
    service.handle(service.reader.read())
    assert [(d.event_id, d.destination_id) for d in deliveries(clean_db)] == [(second, hook)]

    with clean_db.begin() as conn:
        conn.exec_driver_sql("UPDATE destinations SET enabled = false")
    assert service.store.refresh_routing_table() is True
    eventrouter.publish("payment:failed", settings=settings)
    service.handle(service.reader.read())
    assert len(deliveries(clean_db)) == 1


def test_step_refreshes_config_on_its_own(
    make_service: MakeService, settings: Settings, seed: Seed, clean_db: Engine
) -> None:
    service = make_service(settings=settings.model_copy(update={"config_refresh_seconds": 0.05}))
    drain(service)
    seed.route(".*", "http://127.0.0.1:9/hook")
    eventrouter.publish("x", settings=settings)
    wait_for(lambda: service.step() == 0 and deliveries(clean_db), 5, "a planned delivery")


# -- failures ---------------------------------------------------------------------------
def test_postgres_failure_leaves_entries_pending_for_replay(
    make_service: MakeService,
    settings: Settings,
    seed: Seed,
    database_url: str,
    clean_db: Engine,
    redis_conn: redis.Redis,
) -> None:
    from eventrouter.router.db import make_engine

    seed.route(".*", "http://127.0.0.1:9/hook")
    ids = eventrouter.publish_many([("a", {}), ("b", {})], settings=settings)
    broken_engine = make_engine(database_url.rsplit("/", 1)[0] + "/er_test_does_not_exist")
    try:
        broken = make_service(engine=broken_engine)
        entries = broken.reader.read()
        assert len(entries) == 2
        with pytest.raises(DBAPIError):
            broken.handle(entries)
    finally:
        broken_engine.dispose()
    pending = redis_conn.xpending(settings.stream, GROUP)
    assert pending["pending"] == 2
    assert redis_conn.xlen(settings.stream) == 2
    assert scalar(clean_db, "SELECT count(*) FROM events") == 0

    # The same consumer, back with a working database, replays its own pending entries.
    healthy = make_service()
    assert drain(healthy) == 2
    assert {str(r.id) for r in rows(clean_db, "SELECT id FROM events")} == set(ids)
    assert len(deliveries(clean_db)) == 2
    assert stream_is_empty(redis_conn, settings)


def test_dispatch_failure_still_commits_and_acks(
    service: RouterService,
    settings: Settings,
    seed: Seed,
    clean_db: Engine,
    redis_conn: redis.Redis,
    dispatcher: RecordingDispatcher,
) -> None:
    seed.route(".*", "http://127.0.0.1:9/hook")
    dispatcher.fail = ConnectionError("broker down")
    eventrouter.publish("x", settings=settings)
    drain(service)
    (delivery,) = deliveries(clean_db)
    assert delivery.status == "pending"
    assert stream_is_empty(redis_conn, settings)


@pytest.mark.timeout(30)
def test_run_loop_routes_until_stopped(
    service: RouterService,
    settings: Settings,
    seed: Seed,
    clean_db: Engine,
    redis_conn: redis.Redis,
    dispatcher: RecordingDispatcher,
) -> None:
    seed.route(".*", "http://127.0.0.1:9/hook")
    stop = threading.Event()
    thread = threading.Thread(target=service.run, args=(stop,), daemon=True)
    thread.start()
    try:
        event_id = eventrouter.publish("live:event", settings=settings)
        wait_for(lambda: dispatcher.pairs, 5, "a dispatched delivery")
        assert [d.event_id for d in deliveries(clean_db)] == [event_id]
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    consumers = redis_conn.xinfo_consumers(settings.stream, GROUP)
    assert [c["name"] for c in consumers] == []  # left the group: nothing pending


# -- entries Postgres itself refuses ----------------------------------------------------
def test_nul_bytes_in_a_malformed_entry_are_stored_readably(
    service: RouterService, settings: Settings, clean_db: Engine, redis_conn: redis.Redis
) -> None:
    xadd_raw(redis_conn, settings.stream, {"event": b"not json \x00 at all"})
    good_id = eventrouter.publish("after:nul", settings=settings)
    drain(service)
    (rejected,) = rows(clean_db, "SELECT reason, raw FROM rejected_events")
    assert "not valid JSON" in rejected.reason and "\ufffd" in rejected.raw
    assert [str(r.id) for r in rows(clean_db, "SELECT id FROM events")] == [good_id]
    assert stream_is_empty(redis_conn, settings)


def test_an_event_postgres_refuses_is_rejected_alone(
    service: RouterService,
    settings: Settings,
    clean_db: Engine,
    redis_conn: redis.Redis,
    seed: Seed,
) -> None:
    """Whatever makes Postgres refuse one event (here a trigger stands in for the
    unforeseen), the rest of its batch is stored and the stream moves on."""
    seed.route(".*", "http://127.0.0.1:9/hook")
    with clean_db.begin() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION refuse_poison() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION 'poison pill refused'; END $$ LANGUAGE plpgsql"
        )
        conn.exec_driver_sql(
            "CREATE TRIGGER refuse_poison BEFORE INSERT ON events FOR EACH ROW "
            "WHEN (NEW.name = 'poison:pill') EXECUTE FUNCTION refuse_poison()"
        )
    try:
        ids = eventrouter.publish_many(
            [("good:one", {}), ("poison:pill", {}), ("good:two", {})], settings=settings
        )
        drain(service)
        stored = {str(r.id) for r in rows(clean_db, "SELECT id FROM events")}
        assert stored == {ids[0], ids[2]}
        (rejected,) = rows(clean_db, "SELECT reason, raw FROM rejected_events")
        assert "poison pill refused" in rejected.reason and ids[1] in rejected.raw
        assert scalar(clean_db, "SELECT count(*) FROM deliveries") == 2
        assert stream_is_empty(redis_conn, settings)
    finally:
        with clean_db.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER refuse_poison ON events")
            conn.exec_driver_sql("DROP FUNCTION refuse_poison()")


def test_deeply_nested_payload_is_rejected_not_fatal(
    service: RouterService, settings: Settings, clean_db: Engine, redis_conn: redis.Redis
) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    head = json.dumps({"id": new_event_id(), "name": "a:b", "org": "default"})
    deep = head[:-1] + ', "payload": ' + nested + "}"
    xadd_raw(redis_conn, settings.stream, {"event": deep})
    drain(service)
    (rejected,) = rows(clean_db, "SELECT reason FROM rejected_events")
    assert "not valid JSON" in rejected.reason
    assert stream_is_empty(redis_conn, settings)


def test_a_stored_pattern_that_does_not_compile_stops_only_its_channel(
    service: RouterService, seed: Seed, redis_conn: redis.Redis, settings: Settings
) -> None:
    seed.channel("bad(", name="written-around-the-cli")
    seed.route("payment:.*", "http://127.0.0.1:9/hook")
    event_id = eventrouter.publish("payment:failed", settings=settings)
    drain(service)
    assert service.store.table.broken  # reported, and routing goes on
    assert [d.event_id for d in deliveries(service.engine)] == [event_id]


def test_an_entry_deleted_before_it_was_stored_is_rejected_and_acked(
    service: RouterService, redis_conn: redis.Redis, settings: Settings
) -> None:
    entry_id = xadd_raw(redis_conn, settings.stream, {STREAM_FIELD: raw_envelope()})
    assert service.reader.read()  # delivered to this consumer, then lost before the commit
    redis_conn.xdel(settings.stream, entry_id)
    service.reader.recover()
    drain(service)
    (row,) = rows(service.engine, "SELECT stream_id, reason FROM rejected_events")
    assert row.stream_id == entry_id and "deleted from the stream" in row.reason
    assert stream_is_empty(redis_conn, settings)


@pytest.mark.parametrize("removed", ["destinations", "subscriptions"])
def test_config_removed_since_the_table_was_loaded_loses_no_event(
    service: RouterService,
    settings: Settings,
    seed: Seed,
    clean_db: Engine,
    redis_conn: redis.Redis,
    removed: str,
) -> None:
    """The routing table may be a refresh old. A destination or subscription removed
    meanwhile gets nothing; the event and its other deliveries are stored, not rejected
    (its delivery used to fail the batch on the foreign key)."""
    _, gone, gone_sub = seed.route(".*", "http://127.0.0.1:9/gone")
    _, kept, _ = seed.route(".*", "http://127.0.0.1:9/kept")
    assert service.store.refresh_routing_table()
    with clean_db.begin() as conn:
        row_id = gone if removed == "destinations" else gone_sub
        conn.exec_driver_sql(f"DELETE FROM {removed} WHERE id = %s", (row_id,))
    event_id = eventrouter.publish("payment:failed", settings=settings)
    service.handle(service.reader.read())  # still with the table from before the removal
    assert [str(r.id) for r in rows(clean_db, "SELECT id FROM events")] == [event_id]
    assert rows(clean_db, "SELECT * FROM rejected_events") == []
    assert [d.destination_id for d in deliveries(clean_db)] == [kept]
    assert stream_is_empty(redis_conn, settings)


def test_an_ack_cut_short_leaves_no_entry_acknowledged_but_not_deleted(
    make_service: MakeService,
    settings: Settings,
    clean_db: Engine,
    redis_conn: redis.Redis,
) -> None:
    """Redis goes away between the acknowledgement and the delete (here the connection is
    cut right before XDEL, and Redis stays unreachable past the client's retries). An
    entry acknowledged but not deleted would never be read again, yet count against
    stream_max_length forever; done in one MULTI, neither happens and the entry is
    replayed (storing it again is a no-op) and then deleted."""
    redis_port = urlsplit(settings.redis_url).port or 6379
    with CutProxy(redis_port) as proxy:
        through = settings.model_copy(
            update={"redis_url": settings.redis_url.replace(f":{redis_port}/", f":{proxy.port}/")}
        )
        service = make_service(settings=through)
        event_id = eventrouter.publish("payment:failed", settings=settings)
        entries = service.reader.read()
        proxy.cut_before(b"\r\nXDEL\r\n", frame_start=b"*", down_for=3.0)
        with pytest.raises(redis.ConnectionError):
            service.handle(entries)
        assert proxy.cut.is_set()
        time.sleep(3)
        service.reader.recover()  # what the run loop does after a failure
        drain(service)
    assert [str(r.id) for r in rows(clean_db, "SELECT id FROM events")] == [event_id]
    assert stream_is_empty(redis_conn, settings)
