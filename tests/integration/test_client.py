"""publish() and publish_many() against a real Redis."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import time
import uuid

import pytest
import redis

import eventrouter
from eventrouter import InvalidEvent, PublishError, Settings, StreamFull
from eventrouter.router.client import MAX_BATCH_EVENTS
from eventrouter.router.events import STREAM_FIELD
from eventrouter.router.wire import Address, AsyncWireConnection, WireConnection, WireError


def entries(conn: redis.Redis, stream: str) -> list[dict[str, object]]:
    return [json.loads(fields[STREAM_FIELD]) for _, fields in conn.xrange(stream)]


def test_publish_returns_the_id_of_the_entry_it_appended(
    settings: Settings, redis_conn: redis.Redis
) -> None:
    before = time.time()
    event_id = eventrouter.publish(
        "payment:failed",
        {"invoice": "in_1", "amount": 4200},
        env="prod",
        idempotency_key="charge-1",
        settings=settings,
    )
    assert uuid.UUID(event_id).version == 5  # keyed: derived from org and key
    raw = redis_conn.xrange(settings.stream)
    assert len(raw) == 1
    _, fields = raw[0]
    assert set(fields) == {STREAM_FIELD}
    (entry,) = entries(redis_conn, settings.stream)
    assert entry == {
        "id": event_id,
        "name": "payment:failed",
        "org": "default",
        "env": "prod",
        "idempotency_key": "charge-1",
        "published_at": entry["published_at"],
        "payload": {"invoice": "in_1", "amount": 4200},
    }
    assert isinstance(entry["published_at"], float)
    assert before - 0.01 <= entry["published_at"] <= time.time() + 0.01


def test_publish_uses_the_given_org_else_the_settings_org(
    settings: Settings, redis_conn: redis.Redis
) -> None:
    eventrouter.publish("a", settings=settings)
    eventrouter.publish("b", org="acme", settings=settings)
    orgs = [e["org"] for e in entries(redis_conn, settings.stream)]
    assert orgs == ["default", "acme"]


def test_publish_without_payload_sends_an_empty_object(
    settings: Settings, redis_conn: redis.Redis
) -> None:
    eventrouter.publish("run:started", settings=settings)
    assert entries(redis_conn, settings.stream)[0]["payload"] == {}


def test_successive_publishes_keep_their_order(settings: Settings, redis_conn: redis.Redis) -> None:
    ids = [eventrouter.publish("n", {"i": i}, settings=settings) for i in range(5)]
    assert [e["id"] for e in entries(redis_conn, settings.stream)] == ids


def test_invalid_event_sends_nothing(settings: Settings, redis_conn: redis.Redis) -> None:
    with pytest.raises(InvalidEvent, match="event name"):
        eventrouter.publish("no spaces allowed", {}, settings=settings)
    with pytest.raises(InvalidEvent, match="payload"):
        eventrouter.publish("ok", [1, 2], settings=settings)  # type: ignore[arg-type]
    assert redis_conn.exists(settings.stream) == 0


def test_publish_many_returns_ids_in_order(settings: Settings, redis_conn: redis.Redis) -> None:
    ids = eventrouter.publish_many(
        [
            ("payment:failed", {"i": 0}),
            {"name": "run:failed", "payload": {"i": 1}, "env": "staging", "org": "acme"},
            {"name": "metric:accuracy", "idempotency_key": "m-1"},
            ("deploy:done", None),
        ],
        env="prod",
        settings=settings,
    )
    assert len(ids) == 4 == len(set(ids))
    stored = entries(redis_conn, settings.stream)
    assert [e["id"] for e in stored] == ids
    assert [(e["name"], e["org"], e["env"]) for e in stored] == [
        ("payment:failed", "default", "prod"),
        ("run:failed", "acme", "staging"),
        ("metric:accuracy", "default", "prod"),
        ("deploy:done", "default", "prod"),
    ]
    assert stored[1]["payload"] == {"i": 1}
    assert stored[2]["idempotency_key"] == "m-1"
    assert stored[3]["payload"] == {}


def test_publish_many_sends_the_batch_in_one_round_trip(
    settings: Settings, redis_conn: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    eventrouter.publish("warm:up", settings=settings)  # connect (and handshake) outside the count
    sends: list[object] = []
    original = WireConnection.call

    def counting(self: WireConnection, *args: str | bytes | int | float) -> object:
        sends.append(args[0])
        return original(self, *args)

    monkeypatch.setattr(WireConnection, "call", counting)
    ids = eventrouter.publish_many(
        [("batch:item", {"i": i}) for i in range(200)], settings=settings
    )
    monkeypatch.undo()
    assert sends == ["EVALSHA"]
    assert redis_conn.xlen(settings.stream) == 201
    assert [e["id"] for e in entries(redis_conn, settings.stream)[1:]] == ids
    assert ids == sorted(ids)  # one batch's ids ascend: they sort as they were published


def test_publish_many_names_the_first_event_a_bad_org_or_env_spoils(
    settings: Settings, redis_conn: redis.Redis
) -> None:
    with pytest.raises(InvalidEvent, match="event #0: org 'no org' is invalid"):
        eventrouter.publish_many([("a", {}), ("b", {})], org="no org", settings=settings)
    with pytest.raises(InvalidEvent, match="event #1: env '' is invalid"):
        eventrouter.publish_many([{"name": "a", "env": "x"}, ("b", {})], env="", settings=settings)
    assert redis_conn.exists(settings.stream) == 0


def test_publish_many_of_nothing_sends_nothing(settings: Settings, redis_conn: redis.Redis) -> None:
    assert eventrouter.publish_many([], settings=settings) == []
    assert redis_conn.exists(settings.stream) == 0


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (("bad name", {}), "event #1: event name"),
        (("ok", [1]), "event #1: payload"),
        ({"name": "ok", "colour": "red"}, "event #1: unknown field"),
        ({"payload": {}}, "event #1: event name None"),
        (("only-a-name",), "event #1: expected"),
    ],
)
def test_publish_many_with_one_bad_event_sends_nothing(
    settings: Settings, redis_conn: redis.Redis, bad: object, reason: str
) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        eventrouter.publish_many([("good", {}), bad, ("also:good", {})], settings=settings)  # type: ignore[list-item]
    assert redis_conn.exists(settings.stream) == 0


@pytest.mark.timeout(20)
def test_unreachable_redis_raises_publish_error_naming_the_url(settings: Settings) -> None:
    dead = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0", "publish_retries": 1})
    started = time.monotonic()
    with pytest.raises(PublishError, match=re.escape("redis://127.0.0.1:1/0")) as info:
        eventrouter.publish("payment:failed", {"x": 1}, settings=dead)
    assert time.monotonic() - started < 5
    assert "EVENTROUTER_REDIS_URL" in str(info.value)
    with pytest.raises(PublishError, match=re.escape("redis://127.0.0.1:1/0")):
        eventrouter.publish_many([("a", {}), ("b", {})], settings=dead)
    assert time.monotonic() - started < 10


@pytest.mark.timeout(20)
def test_publish_error_hides_the_redis_password(settings: Settings) -> None:
    dead = settings.model_copy(
        update={"redis_url": "redis://:hunter2@127.0.0.1:1/0", "publish_retries": 0}
    )
    with pytest.raises(PublishError) as info:
        eventrouter.publish("a", settings=dead)
    assert "hunter2" not in str(info.value)
    assert "127.0.0.1:1" in str(info.value)


# -- idempotency keys ---------------------------------------------------------------------
def test_every_publish_of_a_key_returns_the_first_events_id(
    settings: Settings, redis_conn: redis.Redis
) -> None:
    first = eventrouter.publish("charge", {"n": 1}, idempotency_key="k-1", settings=settings)
    assert (
        eventrouter.publish("charge", {"n": 2}, idempotency_key="k-1", settings=settings) == first
    )
    (many,) = eventrouter.publish_many(
        [{"name": "charge", "idempotency_key": "k-1"}], settings=settings
    )
    assert many == first
    assert (
        asyncio.run(eventrouter.apublish("charge", idempotency_key="k-1", settings=settings))
        == first
    )
    other_org = eventrouter.publish("charge", org="acme", idempotency_key="k-1", settings=settings)
    assert other_org != first
    # Only the first of each (org, key) entered the stream, with its own payload.
    stored = entries(redis_conn, settings.stream)
    assert [(e["id"], e["payload"]) for e in stored] == [(first, {"n": 1}), (other_org, {})]
    ttl = redis_conn.pttl(f"{settings.stream}:idempotency:{first}")
    assert 23 * 3600 * 1000 < ttl <= 24 * 3600 * 1000  # EVENTROUTER_IDEMPOTENCY_KEY_TTL


def test_the_key_is_remembered_for_the_configured_time(
    settings: Settings, redis_conn: redis.Redis
) -> None:
    brief = settings.model_copy(update={"idempotency_key_ttl": "1s"})
    first = eventrouter.publish("charge", idempotency_key="k-2", settings=brief)
    assert 0 < redis_conn.pttl(f"{brief.stream}:idempotency:{first}") <= 1000
    assert eventrouter.publish("charge", idempotency_key="k-2", settings=brief) == first
    assert redis_conn.xlen(brief.stream) == 1
    deadline = time.monotonic() + 5
    while redis_conn.exists(f"{brief.stream}:idempotency:{first}") and time.monotonic() < deadline:
        time.sleep(0.05)
    # Forgotten by Redis: appended again, with the same id (the router stores it once).
    assert eventrouter.publish("charge", idempotency_key="k-2", settings=brief) == first
    assert [e["id"] for e in entries(redis_conn, brief.stream)] == [first, first]


def test_a_bad_key_ttl_names_the_setting() -> None:
    with pytest.raises(ValueError, match="idempotency_key_ttl"):
        Settings(idempotency_key_ttl="soon")


# -- batch limits -------------------------------------------------------------------------
def test_a_batch_over_the_limit_is_refused_whole(
    settings: Settings, redis_conn: redis.Redis
) -> None:
    too_many = [("batch:item", {}) for _ in range(MAX_BATCH_EVENTS + 1)]
    with pytest.raises(InvalidEvent, match=r"at most 10,000 events .* split it"):
        eventrouter.publish_many(too_many, settings=settings)
    big = {"blob": "x" * 200_000}
    with pytest.raises(InvalidEvent, match="64 MiB"):
        eventrouter.publish_many([("batch:big", big)] * 400, settings=settings)
    assert redis_conn.exists(settings.stream) == 0
    assert len(eventrouter.publish_many(too_many[:-1], settings=settings)) == MAX_BATCH_EVENTS


def test_a_batch_longer_than_the_stream_can_hold_is_invalid_not_full(
    settings: Settings, redis_conn: redis.Redis
) -> None:
    small = settings.model_copy(update={"stream_max_length": 5})
    with pytest.raises(InvalidEvent, match=r"batch of 6 events can never fit .* at most 5"):
        eventrouter.publish_many([("batch:item", {})] * 6, settings=small)
    assert redis_conn.exists(settings.stream) == 0
    assert len(eventrouter.publish_many([("batch:item", {})] * 5, settings=small)) == 5


# -- asyncio --------------------------------------------------------------------------------
def test_apublish_has_publishs_contract(settings: Settings, redis_conn: redis.Redis) -> None:
    async def main() -> tuple[str, list[str], list[str]]:
        one = await eventrouter.apublish("async:one", {"a": 1}, env="prod", settings=settings)
        concurrent = await asyncio.gather(
            *(eventrouter.apublish("async:many", {"i": i}, settings=settings) for i in range(50))
        )
        batch = await eventrouter.apublish_many(
            [("async:batch", {"i": i}) for i in range(3)], settings=settings
        )
        return one, list(concurrent), batch

    one, concurrent, batch = asyncio.run(main())
    stored = entries(redis_conn, settings.stream)
    assert stored[0]["id"] == one and stored[0]["env"] == "prod"
    assert sorted(e["id"] for e in stored[1:51]) == sorted(concurrent)
    assert [e["id"] for e in stored[51:]] == batch
    with pytest.raises(InvalidEvent, match="payload must be a JSON object"):
        asyncio.run(eventrouter.apublish("bad", [1], settings=settings))  # type: ignore[arg-type]


@pytest.mark.timeout(20)
def test_apublish_to_unreachable_redis_raises_publish_error(settings: Settings) -> None:
    dead = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0", "publish_retries": 1})
    with pytest.raises(PublishError, match=re.escape("redis://127.0.0.1:1/0")):
        asyncio.run(eventrouter.apublish("a", settings=dead))


def test_apublish_raises_stream_full(settings: Settings, redis_conn: redis.Redis) -> None:
    small = settings.model_copy(update={"stream_max_length": 2})
    asyncio.run(eventrouter.apublish_many([("a", {}), ("b", {})], settings=small))
    with pytest.raises(StreamFull):
        asyncio.run(eventrouter.apublish("c", settings=small))
    assert redis_conn.xlen(small.stream) == 2


def test_a_forked_child_publishes_on_its_own_connection(
    settings: Settings, redis_conn: redis.Redis
) -> None:
    eventrouter.publish("parent:before", settings=settings)  # the parent's socket is open
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            eventrouter.publish("child", settings=settings)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    eventrouter.publish("parent:after", settings=settings)
    names = [e["name"] for e in entries(redis_conn, settings.stream)]
    assert names == ["parent:before", "child", "parent:after"]


def test_a_server_that_never_answers_times_out_both_connections() -> None:
    """Connected, command written, no reply: the call fails within its timeout (and the
    connection is dropped, so a late reply can never answer a later call)."""
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never replies
        address = Address(port=silent.getsockname()[1])
        blocking = WireConnection(address, connect_timeout=1, timeout=0.2)
        began = time.monotonic()
        with pytest.raises(WireError, match=r"no reply within 0\.2 s"):
            blocking.call("PING")
        assert time.monotonic() - began < 2

        async def main() -> None:
            wire = AsyncWireConnection(address, connect_timeout=1, timeout=0.2)
            with pytest.raises(WireError, match=r"no reply within 0\.2 s"):
                await wire.call("PING")
            with pytest.raises(WireError):  # the line was dropped; a new one is made
                await wire.call("PING")

        began = time.monotonic()
        asyncio.run(main())
        assert time.monotonic() - began < 2
