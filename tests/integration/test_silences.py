"""Silences through the CLI: events they match are recorded as silenced (with the
silence's id and comment), expiry brings deliveries back, bad input is one line."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine

from eventrouter.router.service import RouterService
from eventrouter.router.settings import Settings
from tests.helpers import RecordingDispatcher, scalar
from tests.integration.test_cli import assert_usage_error


@pytest.fixture
def configured(run) -> None:
    assert run("channels", "add", "payments", "--pattern", "payment:.*").code == 0
    assert run("channels", "add", "runs", "--pattern", "run:.*").code == 0
    url = "http://127.0.0.1:9/hook"
    assert run("destinations", "add", "hook", "--type", "webhook", "--url", url).code == 0
    for name, channel in (("pay", "payments"), ("run", "runs")):
        added = run("subscriptions", "add", name, "--channel", channel, "--destination", "hook")
        assert added.code == 0, added.err


def route(settings: Settings, engine: Engine) -> None:
    router = RouterService(settings, engine=engine, dispatcher=RecordingDispatcher())
    router.reader.ensure_group()
    while router.step():
        pass


def send(run, name: str, payload: str) -> str:
    return str(run("send", name, "--payload", payload).out.split()[-1])


def decision_of(run, event_id: str) -> dict:
    return json.loads(run("show", event_id, "--json").out)["decisions"][0]


def test_a_silence_mutes_what_it_matches_until_expired(
    run, configured: None, settings: Settings, clean_db: Engine
) -> None:
    added = run(
        "silences", "add", "--filter", 'payload.service == "checkout"', "--channel", "payments",
        "--duration", "2h", "--comment", "checkout deploy, ticket OPS-12", "--json",
    )  # fmt: skip
    assert added.code == 0, added.err
    silence = json.loads(added.out)
    assert silence["active"] and silence["channel"] == "payments"
    muted = send(run, "payment:failed", '{"service": "checkout"}')
    other_service = send(run, "payment:failed", '{"service": "search"}')
    other_channel = send(run, "run:failed", '{"service": "checkout"}')
    route(settings, clean_db)
    decision = decision_of(run, muted)
    assert (decision["decision"], decision["silence_id"]) == ("silenced", silence["id"])
    assert "checkout deploy, ticket OPS-12" in decision["reason"]
    assert decision_of(run, other_service)["decision"] == "delivered"
    assert decision_of(run, other_channel)["decision"] == "delivered"
    assert "silence 1: checkout deploy" in run("show", muted).out

    assert run("silences", "expire", str(silence["id"])).code == 0
    after = send(run, "payment:failed", '{"service": "checkout"}')
    route(settings, clean_db)
    assert decision_of(run, after)["decision"] == "delivered"
    assert json.loads(run("silences", "list", "--json").out) == []
    assert json.loads(run("silences", "list", "--all", "--json").out)[0]["expired_at"]
    assert scalar(clean_db, "SELECT count(*) FROM deliveries") == 3


def test_a_recurring_silence_is_active_only_in_its_window(run, configured: None) -> None:
    added = run("silences", "add", "--filter", "true", "--every", "mon-sun 00:00-24:00",
                "--timezone", "Europe/Berlin", "--comment", "always", "--json")  # fmt: skip
    assert added.code == 0, added.err
    assert json.loads(added.out)["active"] is True
    listed = run("silences", "list").out
    assert "mon-sun 00:00-24:00" in listed


@pytest.mark.parametrize(
    ("flags", "fragment"),
    [
        (("--filter", "payload.x ==", "--duration", "1h"), "syntax error"),
        (("--filter", "true"), "needs --duration, --until or --every"),
        (("--filter", "true", "--duration", "soon"), "not a duration"),
        (("--filter", "true", "--until", "2001-01-01"), "is in the past"),
        (("--filter", "true", "--every", "sat 25:00-26:00"), "times run from"),
        (("--filter", "true", "--duration", "1h", "--channel", "nope"), "no channel named"),
    ],
)
def test_bad_silences_are_one_line_exit_2(
    run, configured: None, flags: tuple[str, ...], fragment: str
) -> None:
    assert_usage_error(run("silences", "add", *flags, "--comment", "why"), fragment)


def test_expiring_an_unknown_silence_says_so(run, configured: None) -> None:
    result = run("silences", "expire", "99")
    assert result.code != 0 and "no silence 99" in result.err
