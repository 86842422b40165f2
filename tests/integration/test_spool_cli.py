"""``eventrouter spool status|inspect|drain`` on a spool a dead producer left."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis

from eventrouter import Publisher, Settings
from eventrouter.router.events import STREAM_FIELD
from tests.integration.conftest import Run


@pytest.fixture
def left_spool(settings: Settings, tmp_path: Path) -> tuple[Path, list[str]]:
    """A spool holding 12 events a producer could not send (Redis unreachable)."""
    directory = tmp_path / "spool"
    dead = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    producer = Publisher(dead, spool_dir=directory, install_atexit=False)
    ids = [producer.publish("job:done", {"i": i}, env="prod") for i in range(12)]
    producer.close(timeout=0)
    return directory, ids


def test_status_inspect_and_drain(
    run: Run, left_spool: tuple[Path, list[str]], settings: Settings, redis_conn: redis.Redis
) -> None:
    directory, ids = left_spool
    status = run("spool", "status", str(directory))
    assert status.code == 0, status.err
    assert "12 events waiting" in status.out and "0 dropped" in status.out
    document = json.loads(run("spool", "status", str(directory), "--json").out)
    assert document["events"] == 12 and document["bytes"] > 0

    shown = run("spool", "inspect", str(directory), "--limit", "3")
    assert shown.code == 0
    lines = shown.out.splitlines()
    assert lines[0].split()[:3] == ["EVENT_ID", "SPOOLED_AT", "NAME"]
    assert [line.split()[0] for line in lines[1:]] == ids[:3]
    (first,) = json.loads(run("spool", "inspect", str(directory), "--limit", "1", "--json").out)
    assert first["payload"] == {"i": 0} and first["env"] == "prod"

    drained = run("spool", "drain", str(directory))
    assert drained.code == 0, drained.err
    assert drained.out.startswith("sent 12 events")
    sent = [json.loads(f[STREAM_FIELD])["id"] for _, f in redis_conn.xrange(settings.stream)]
    assert sent == ids
    assert "0 events waiting" in run("spool", "status", str(directory)).out
    assert run("spool", "inspect", str(directory)).out.strip() == "the spool is empty"


def test_drain_with_redis_down_says_so_and_keeps_the_events(
    run: Run, left_spool: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    directory, _ = left_spool
    monkeypatch.setenv("EVENTROUTER_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("EVENTROUTER_PUBLISH_RETRIES", "0")
    result = run("spool", "drain", str(directory))
    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "127.0.0.1:1" in result.err and "12 still in the spool" in result.err


def test_a_directory_without_a_spool_is_one_line(run: Run, tmp_path: Path) -> None:
    result = run("spool", "status", str(tmp_path))
    assert result.code == 2
    assert result.err.count("\n") == 1 and "no spool in" in result.err
    assert not (tmp_path / "spool.sqlite3").exists()
