"""The CLI against real Postgres and Redis: config round trips and every bad input.

``router.cli.main`` runs in-process (the console script calls exactly this), so a
traceback would fail the test rather than print.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine

from tests.helpers import scalar
from tests.integration.conftest import Result


def assert_usage_error(result: Result, *fragments: str) -> None:
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def config_counts(engine: Engine) -> tuple[int, int, int]:
    return (
        scalar(engine, "SELECT count(*) FROM channels"),
        scalar(engine, "SELECT count(*) FROM destinations"),
        scalar(engine, "SELECT count(*) FROM subscriptions"),
    )


@pytest.fixture
def configured(run) -> None:
    assert run("channels", "add", "payments", "--pattern", "payment:.*").code == 0
    assert (
        run(
            "destinations", "add", "hook", "--type", "webhook", "--url", "http://127.0.0.1:9/hook"
        ).code
        == 0
    )
    assert (
        run("subscriptions", "add", "s", "--channel", "payments", "--destination", "hook").code == 0
    )


def test_config_round_trip_as_json(run, configured: None) -> None:
    channels = json.loads(run("channels", "list", "--json").out)
    assert [(c["name"], c["pattern"], c["subscriptions"], c["is_system"]) for c in channels] == [
        ("delivery:failed", "delivery:failed", [], True),
        ("destination:disabled", "destination:disabled", [], True),
        ("payments", "payment:.*", ["s"], False),
    ]
    destinations = json.loads(run("destinations", "list", "--json").out)
    assert destinations[0]["config"]["url"] == "http://127.0.0.1:9/hook"
    assert destinations[0]["enabled"] is True
    subs = json.loads(run("subscriptions", "list", "--json").out)
    assert (subs[0]["channels"], subs[0]["destinations"], subs[0]["env"]) == (
        ["payments"],
        ["hook"],
        None,
    )
    assert run("destinations", "disable", "hook").code == 0
    assert json.loads(run("destinations", "list", "--json").out)[0]["enabled"] is False
    assert run("subscriptions", "remove", "s").code == 0
    assert run("channels", "remove", "payments").code == 0
    assert run("destinations", "remove", "hook").code == 0


def test_header_values_are_masked_in_listings(run) -> None:
    run(
        "destinations",
        "add",
        "hook",
        "--type",
        "webhook",
        "--url",
        "https://x.example/h",
        "--header",
        "Authorization: Bearer supersecrettoken",
    )
    for args in (("destinations", "list"), ("destinations", "list", "--json")):
        out = run(*args).out
        assert "supersecret" not in out
    listed = json.loads(run("destinations", "list", "--json").out)
    assert listed[0]["config"]["headers"]["Authorization"] == "…oken"


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("channels", "add", "c", "--pattern", "(unclosed"), ("invalid pattern",)),
        (("channels", "add", "c", "--pattern", "a" * 1001), ("limit",)),
        (("channels", "add", "bad name", "--pattern", "x"), ("channel name",)),
        (("channels", "add", "payments", "--pattern", "x"), ("already exists",)),
        (("channels", "remove", "payments"), ("used by subscription", "s")),
        (("channels", "remove", "nope"), ("no channel named 'nope'",)),
        (
            ("destinations", "add", "d", "--type", "webhook", "--url", "not a url"),
            ("not an http(s) URL",),
        ),
        (
            ("destinations", "add", "d", "--type", "webhook", "--url", "ftp://x/y"),
            ("not an http(s) URL",),
        ),
        (("destinations", "add", "d", "--type", "webhook"), ("needs --url",)),
        (
            (
                "destinations",
                "add",
                "d",
                "--type",
                "webhook",
                "--url",
                "http://x/",
                "--header",
                "no colon",
            ),
            ("Name: value",),
        ),
        (
            (
                "destinations",
                "add",
                "d",
                "--type",
                "webhook",
                "--url",
                "http://x/",
                "--header",
                "Content-Type: text/plain",
            ),
            ("cannot be overridden",),
        ),
        (
            (
                "destinations",
                "add",
                "d",
                "--type",
                "webhook",
                "--url",
                "http://x/",
                "--retry-schedule",
                "5x",
            ),
            ("retry schedule",),
        ),
        (
            (
                "destinations",
                "add",
                "d",
                "--type",
                "webhook",
                "--url",
                "http://x/",
                "--timeout",
                "-1",
            ),
            ("timeout",),
        ),
        (
            ("destinations", "add", "hook", "--type", "webhook", "--url", "http://x/"),
            ("already exists",),
        ),
        (
            ("destinations", "add", "d", "--type", "carrier-pigeon", "--url", "http://x/"),
            ("--type",),
        ),
        (("destinations", "enable", "nope"), ("no destination named 'nope'",)),
        (
            ("subscriptions", "add", "t", "--channel", "nope", "--destination", "hook"),
            ("no channel named 'nope'",),
        ),
        (
            ("subscriptions", "add", "t", "--channel", "payments", "--destination", "nope"),
            ("no destination named 'nope'",),
        ),
        (
            ("subscriptions", "add", "s", "--channel", "payments", "--destination", "hook"),
            ("already exists",),
        ),
        (("subscriptions", "add", "t", "--channel", "payments"), ("--destination",)),
        (("subscriptions", "disable", "nope"), ("no subscription named 'nope'",)),
        (("send", "bad name!"), ("event name",)),
        (("send", "a:b", "--payload", "{not json"), ("not valid JSON",)),
        (("send", "a:b", "--payload", "[1, 2]"), ("JSON object",)),
        (("history", "--name", "(unclosed"), ("--name",)),
        (("show", "not-a-uuid"), ("not an event id",)),
        (("show", "01a20915-2a86-7d2e-8f1f-66cfa127078a"), ("no event",)),
        (("deliveries", "--destination", "nope"), ("no destination named 'nope'",)),
        (("retry",), ("delivery ids, event ids, or --failed",)),
        (("retry", "999"), ("no delivery with id 999",)),
        # An id whose day no date can hold names no week: not found, not a crash.
        (("show", "9223372036854775807"), ("no event 9223372036854775807",)),
        (("show", "ffffffff-ffff-7fff-bfff-ffffffffffff"), ("no event",)),
        (("retry", "--failed", "--since", "soon"), ("--since",)),
        (("nosuchcommand",), ("No such command",)),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    run, configured: None, clean_db: Engine, args: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    before = config_counts(clean_db)
    assert_usage_error(run(*args), *fragments)
    assert config_counts(clean_db) == before


def test_subscription_with_one_unknown_destination_writes_nothing(
    run, configured: None, clean_db: Engine
) -> None:
    result = run(
        "subscriptions",
        "add",
        "t",
        "--channel",
        "payments",
        "--destination",
        "hook",
        "--destination",
        "ghost",
    )
    assert_usage_error(result, "ghost")
    assert scalar(clean_db, "SELECT count(*) FROM subscription_destinations") == 1


def test_unreachable_postgres_names_the_url(run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "EVENTROUTER_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
    )
    result = run("channels", "list")
    assert result.code == 1
    assert result.err.count("\n") == 1
    assert "127.0.0.1:1/nowhere" in result.err and "start Postgres" in result.err


def test_unreachable_redis_names_the_url(run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTROUTER_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("EVENTROUTER_PUBLISH_RETRIES", "0")
    result = run("send", "a:b")
    assert result.code == 1
    assert "redis://127.0.0.1:1/0" in result.err and "start Redis" in result.err


def test_missing_schema_says_run_db_upgrade(
    run, monkeypatch: pytest.MonkeyPatch, database_url: str
) -> None:
    empty = database_url.rsplit("/", 1)[0] + "/postgres"
    monkeypatch.setenv("EVENTROUTER_DATABASE_URL", empty)
    assert_usage_error(run("channels", "list"), "eventrouter db upgrade")


def test_bad_setting_is_one_line(run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTROUTER_RETRY_SCHEDULE", "soon")
    assert_usage_error(run("channels", "list"), "EVENTROUTER")


def test_send_with_a_used_idempotency_key_prints_the_first_events_id(run) -> None:
    first = run("send", "charge", "--payload", '{"n": 1}', "--idempotency-key", "k-cli")
    again = run("send", "charge", "--payload", '{"n": 2}', "--idempotency-key", "k-cli")
    assert first.code == again.code == 0
    assert again.out == first.out and len(first.out.strip()) == 36
    other = run("--org", "acme", "send", "charge", "--idempotency-key", "k-cli")
    assert other.code == 0 and other.out != first.out
