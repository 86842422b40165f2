"""Rule flags on ``subscriptions add`` / ``update`` and decisions in ``show``, through
the CLI's entry point against real Postgres and Redis."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine

from eventrouter.router.service import RouterService
from eventrouter.router.settings import Settings
from tests.helpers import RecordingDispatcher
from tests.integration.test_cli import assert_usage_error


@pytest.fixture
def configured(run) -> None:
    assert run("channels", "add", "runs", "--pattern", "run:.*").code == 0
    url = "http://127.0.0.1:9/hook"
    assert run("destinations", "add", "hook", "--type", "webhook", "--url", url).code == 0


def route(settings: Settings, engine: Engine) -> None:
    router = RouterService(settings, engine=engine, dispatcher=RecordingDispatcher())
    router.reader.ensure_group()
    while router.step():
        pass


def test_show_explains_a_filtered_event(
    run, configured: None, settings: Settings, clean_db: Engine
) -> None:
    add = run(
        "subscriptions", "add", "ml", "--channel", "runs", "--destination", "hook",
        "--filter", 'payload.accuracy < 0.9 && payload.experiment == "iris"',
    )  # fmt: skip
    assert add.code == 0, add.err
    event_id = run("send", "run:finished", "--payload", '{"accuracy": 0.97}').out.split()[-1]
    route(settings, clean_db)
    shown = json.loads(run("show", event_id, "--json").out)
    assert [(d["subscription"], d["decision"], d["reason"]) for d in shown["decisions"]] == [
        ("ml", "filtered", "filter is false")
    ]
    text = run("show", event_id).out
    assert "decision ml: filtered — filter is false" in text


def test_update_changes_only_the_rules_it_names(run, configured: None) -> None:
    base = ("subscriptions", "add", "w", "--channel", "runs", "--destination", "hook")
    assert run(*base, "--filter", "payload.score >= 0.6").code == 0
    changed = run("subscriptions", "update", "w", "--quiet-hours", "23:00-07:00",
                  "--timezone", "America/New_York", "--json")  # fmt: skip
    assert changed.code == 0, changed.err
    assert json.loads(changed.out)["rules"] == {
        **json.loads(changed.out)["rules"],
        "filter": "payload.score >= 0.6",
        "quiet_hours": "23:00-07:00",
        "timezone": "America/New_York",
    }
    cleared = run("subscriptions", "update", "w", "--no-rules", "--json")
    assert json.loads(cleared.out)["rules"] is None


@pytest.mark.parametrize(
    ("flags", "fragments"),
    [
        (("--filter", "payload.score >="), ("syntax error at column 17",)),
        (("--filter", "score > 1"), ("unknown variable 'score'",)),
        (("--quiet-hours", "23:00-07:00", "--timezone", "Mars/Base"), ("unknown time zone",)),
        (("--quiet-hours", "23-7", "--timezone", "UTC"), ("HH:MM-HH:MM",)),
        (("--for", "0", "--notify", "on-change"), ("rules: for_count",)),
        (("--group-wait", "30s"), ("--group-wait needs --group-by",)),
    ],
)
def test_bad_rule_flags_are_one_line_exit_2(
    run, configured: None, clean_db: Engine, flags: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    result = run("subscriptions", "add", "w", "--channel", "runs", "--destination", "hook", *flags)
    assert_usage_error(result, *fragments)
