"""publish() and publish_many() against a real Redis."""

from __future__ import annotations

import json
import re
import time
import uuid

import pytest
import redis
from redis.connection import Connection

import eventrouter
from eventrouter import InvalidEvent, PublishError, Settings
from eventrouter.router.events import STREAM_FIELD


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
    assert uuid.UUID(event_id).version == 7
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
    sends: list[int] = []
    original = Connection.send_packed_command

    def counting(self: Connection, command: object, check_health: bool = True) -> None:
        sends.append(1)
        original(self, command, check_health)  # type: ignore[arg-type]

    monkeypatch.setattr(Connection, "send_packed_command", counting)
    ids = eventrouter.publish_many(
        [("batch:item", {"i": i}) for i in range(200)], settings=settings
    )
    monkeypatch.undo()
    assert len(sends) == 1
    assert redis_conn.xlen(settings.stream) == 201
    assert [e["id"] for e in entries(redis_conn, settings.stream)[1:]] == ids


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
