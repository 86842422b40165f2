"""``eventrouter destinations add/list/rotate-secret/test`` for every kind, in-process
against real Postgres and Redis, with local provider stand-ins for ``test``."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from standardwebhooks.webhooks import Webhook as Verifier

from tests.helpers import plain, rows, scalar
from tests.integration.conftest import Run
from tests.receiver import Receiver, always

ROUTING_KEY = "0123456789abcdef0123456789abcdef"


def add(run: Run, name: str, *args: str) -> dict:
    result = run("destinations", "add", name, *args, "--json")
    assert result.code == 0, result
    return json.loads(result.out)


def test_every_kind_is_added_and_its_secrets_never_listed(run: Run, clean_db: Engine) -> None:
    hook = add(
        run,
        "hook",
        "--type",
        "webhook",
        "--url",
        "https://example.com/h",
        "--method",
        "put",
        "--header",
        "Authorization: Bearer hdr-secret-1234",
        "--generate-secret",
    )
    assert hook["signing_secret"].startswith("whsec_")
    add(
        run,
        "slack-hook",
        "--type",
        "slack",
        "--webhook-url",
        "https://hooks.slack.com/services/T0/B0/slackurlsecret",
    )
    add(
        run,
        "slack-bot",
        "--type",
        "slack",
        "--bot-token",
        "xoxb-1-2-bottokensecret",
        "--channel",
        "C0123456789",
        "--rate-limit",
        "0.5",
        "--burst",
        "2",
    )
    add(
        run,
        "pd",
        "--type",
        "pagerduty",
        "--routing-key",
        ROUTING_KEY,
        "--severity",
        "critical",
        "--region",
        "eu",
    )
    add(
        run,
        "mail",
        "--type",
        "email",
        "--from",
        "alerts@example.com",
        "--to",
        "a@example.com",
        "--to",
        "b@example.com",
        "--smtp-host",
        "smtp.example.com",
        "--username",
        "u",
        "--password",
        "smtppasswordsecret",
        "--sendgrid-api-key",
        "SG.sendgridsecret",
    )
    secrets = [
        hook["signing_secret"][6:20],
        "hdr-secret",
        "slackurlsecret",
        "bottokensecret",
        ROUTING_KEY[:28],
        "smtppasswordsecret",
        "sendgridsecret",
    ]
    table = run("destinations", "list").out
    listed = run("destinations", "list", "--json").out
    for output in (table, listed):
        for secret in secrets:
            assert secret not in output
    by_name = {d["name"]: d for d in json.loads(listed)}
    assert by_name["pd"]["config"]["routing_key"] == "…cdef"
    assert by_name["slack-bot"]["config"]["bot_token"] == "…cret"
    assert by_name["mail"]["config"]["smtp"] == {
        "host": "smtp.example.com",
        "port": 465,
        "tls": "ssl",
        "username": "u",
        "password": "…cret",
    }
    assert by_name["hook"]["config"]["method"] == "PUT"
    assert "channel C0123456789" in table and "to a@example.com, b@example.com" in table
    stored = scalar(clean_db, "SELECT config->>'routing_key' FROM destinations WHERE name='pd'")
    assert stored.startswith("enc:v1:") and plain(stored) == ROUTING_KEY  # encrypted at rest


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (("--type", "slack"), "needs --webhook-url, or --bot-token and --channel"),
        (("--type", "slack", "--bot-token", "xoxb-1"), "needs --channel"),
        (("--type", "slack", "--webhook-url", "not a url"), "not an http(s) URL"),
        (("--type", "pagerduty"), "needs --routing-key"),
        (("--type", "pagerduty", "--routing-key", "short"), "32-character Integration Key"),
        (("--type", "email", "--to", "a@b.co"), "needs --from"),
        (("--type", "email", "--from", "a@b.co", "--to", "x"), "not an email address"),
        (("--type", "email", "--from", "a@b.co", "--to", "c@d.co"), "--smtp-host"),
        (
            ("--type", "webhook", "--url", "http://x/", "--secret", "whsec_eHh4eHh4eHg="),
            "24-64 bytes",
        ),
        (("--type", "webhook", "--url", "http://x/", "--secret", "nope"), "whsec_"),
        (("--type", "webhook", "--url", "http://x/", "--channel", "C1"), "does not apply"),
        (
            ("--type", "webhook", "--url", "http://x/", "--template", '{"a": "${payload_json}"}'),
            "object slot",
        ),
        (
            ("--type", "webhook", "--url", "http://x/", "--template", '{"a": ${nam}}'),
            "unknown placeholder ${nam}",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(
    run: Run, clean_db: Engine, args: tuple[str, ...], fragment: str
) -> None:
    result = run("destinations", "add", "d", *args)
    assert result.code == 2, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and fragment in lines[0], lines
    assert scalar(clean_db, "SELECT count(*) FROM destinations") == 0


def test_rotate_secret_keeps_the_old_one_co_signing_for_the_grace_period(
    run: Run, clean_db: Engine
) -> None:
    old = add(run, "hook", "--type", "webhook", "--url", "https://e.com/h", "--generate-secret")[
        "signing_secret"
    ]
    result = run("destinations", "rotate-secret", "hook", "--grace", "2h", "--json")
    assert result.code == 0, result
    rotated = json.loads(result.out)
    new = rotated["secret"]
    assert new.startswith("whsec_") and new != old
    until = datetime.fromisoformat(rotated["previous_valid_until"])
    assert 7150 < (until - datetime.now(UTC)).total_seconds() <= 7200
    (config,) = [plain(r.config) for r in rows(clean_db, "SELECT config FROM destinations")]
    assert config["secret"] == new
    assert [p["secret"] for p in config["previous_secrets"]] == [old]
    dropped = run("destinations", "rotate-secret", "hook", "--grace", "0")
    assert "no previous secret signs any more" in dropped.out
    (config,) = [plain(r.config) for r in rows(clean_db, "SELECT config FROM destinations")]
    assert [p["secret"] for p in config["previous_secrets"]] == [old]  # still in its grace


def test_rotate_secret_refuses_non_webhooks_and_bad_secrets(run: Run) -> None:
    add(run, "pd", "--type", "pagerduty", "--routing-key", ROUTING_KEY)
    add(run, "hook", "--type", "webhook", "--url", "https://e.com/h")
    for args, fragment in [
        (("pd",), "only webhooks are signed"),
        (("nope",), "no destination named 'nope'"),
        (("hook", "--force", "--secret", "whsec_eHh4eHh4eHg="), "24-64 bytes"),
        (("hook",), "give --force to turn signing on"),
        (("hook", "--grace", "soon"), "--grace"),
    ]:
        result = run("destinations", "rotate-secret", *args)
        assert result.code == 2 and fragment in result.err, (args, result)


def test_test_sends_through_the_real_path_and_records_the_attempt(
    run: Run, clean_db: Engine
) -> None:
    with Receiver(always(200, "ok")) as slack:
        add(run, "team", "--type", "slack", "--webhook-url", slack.url_for("/services/T/B/x"))
        result = run("destinations", "test", "team")
        [request] = slack.requests()
    assert result.code == 0, result
    assert result.out.startswith("test notification to team: succeeded (HTTP 200")
    assert request.json["blocks"][0]["text"]["text"] == "eventrouter:test"
    (attempt,) = rows(clean_db, "SELECT outcome, http_status, response_body FROM delivery_attempts")
    assert (attempt.outcome, attempt.http_status, attempt.response_body) == ("succeeded", 200, "ok")


def test_test_prints_the_providers_error_and_exits_1(run: Run, clean_db: Engine) -> None:
    with Receiver(always(404, "channel_not_found")) as slack:
        add(run, "team", "--type", "slack", "--webhook-url", slack.url_for("/services/T/B/x"))
        result = run("destinations", "test", "team")
    assert result.code == 1
    assert "failed (HTTP 404" in result.out
    assert "error: Slack rejected the message: channel_not_found" in result.out
    with Receiver(always(503, "")) as hook:
        add(run, "hook", "--type", "webhook", "--url", hook.url_for("/h"), "--generate-secret")
        result = run("destinations", "test", "hook", "--json")
        [request] = hook.requests()
    assert result.code == 1
    outcome = json.loads(result.out)
    assert (outcome["outcome"], outcome["http_status"], outcome["status"]) == (
        "retry",
        503,
        "failed",
    )
    secret = plain(
        scalar(clean_db, "SELECT config->>'secret' FROM destinations WHERE name = 'hook'")
    )
    Verifier(secret).verify(request.body, request.headers)


def test_test_refuses_disabled_destinations(run: Run) -> None:
    add(run, "hook", "--type", "webhook", "--url", "http://127.0.0.1:9/h")
    run("destinations", "disable", "hook")
    result = run("destinations", "test", "hook")
    assert result.code == 2 and "is disabled; enable it first" in result.err
