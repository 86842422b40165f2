"""Back-pressure on real Redis: past ``stream_max_length`` unrouted events ``publish()``
raises ``StreamFull`` (a ``PublishError``) and appends nothing; nothing is ever trimmed,
and once routers drain the stream publishing works again."""

from __future__ import annotations

import pytest
import redis
from sqlalchemy import Engine

import eventrouter
from eventrouter import PublishError, Settings, StreamFull
from eventrouter.router.cli import main
from eventrouter.router.service import RouterService
from tests.helpers import RecordingDispatcher


@pytest.fixture
def small(settings: Settings) -> Settings:
    return settings.model_copy(update={"stream_max_length": 5})


def test_publish_raises_stream_full_at_the_limit_and_appends_nothing(
    small: Settings, redis_conn: redis.Redis
) -> None:
    ids = [eventrouter.publish("load:tick", {"i": i}, settings=small) for i in range(5)]
    with pytest.raises(StreamFull) as info:
        eventrouter.publish("load:tick", {"i": 5}, settings=small)
    assert isinstance(info.value, PublishError)
    message = str(info.value)
    assert "holds 5 unrouted events" in message
    assert "EVENTROUTER_STREAM_MAX_LENGTH=5" in message
    assert "not published" in message
    entries = redis_conn.xrange(small.stream)
    assert len(entries) == 5  # the first five are all still there: nothing was dropped
    assert [eventrouter.router.events.parse_envelope(f[b"event"]).id for _, f in entries] == ids


def test_publish_many_is_all_or_nothing(small: Settings, redis_conn: redis.Redis) -> None:
    eventrouter.publish_many([("load:tick", {"i": i}) for i in range(3)], settings=small)
    with pytest.raises(StreamFull, match="these 3 events were not published"):
        eventrouter.publish_many([("load:tick", {"i": i}) for i in range(3)], settings=small)
    assert redis_conn.xlen(small.stream) == 3
    eventrouter.publish_many([("load:tick", {"i": i}) for i in range(2)], settings=small)
    assert redis_conn.xlen(small.stream) == 5


def test_publishing_resumes_once_a_router_drains_the_stream(
    small: Settings, redis_conn: redis.Redis, clean_db: Engine
) -> None:
    eventrouter.publish_many([("load:tick", {"i": i}) for i in range(5)], settings=small)
    with pytest.raises(StreamFull):
        eventrouter.publish("load:tick", settings=small)
    service = RouterService(small, engine=clean_db, dispatcher=RecordingDispatcher())
    service.reader.ensure_group()
    service.handle(service.reader.read())
    assert redis_conn.xlen(small.stream) == 0  # routed entries are deleted
    eventrouter.publish("load:tick", settings=small)
    assert redis_conn.xlen(small.stream) == 1


def test_cli_send_says_the_stream_is_full_in_one_line(
    small: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for key, value in small.model_dump().items():
        if value is not None:
            monkeypatch.setenv(f"EVENTROUTER_{key.upper()}", str(value))
    eventrouter.publish_many([("load:tick", {})] * 5, settings=small)
    with pytest.raises(SystemExit) as info:
        main(["send", "load:tick"])
    assert info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: stream ")
    assert "EVENTROUTER_STREAM_MAX_LENGTH" in err[0]
