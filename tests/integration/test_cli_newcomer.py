"""Issue 18 items 4 and 6-11 through the CLI: what a newcomer trips over when inspecting
deliveries. (Items 1-3, editing and removing configuration, are in test_cli_update.)"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import Engine, text

from eventrouter.router.settings import Settings
from tests.helpers import Seed, rows, scalar
from tests.integration.conftest import Run
from tests.integration.test_cli import assert_usage_error


def attempt(engine: Engine, delivery_id: int, outcome: str, **values: object) -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, "
                "duration_ms, outcome, http_status, error, response_body) VALUES "
                "(:d, :n, now(), 12, :o, :status, :error, :body)"
            ),
            {
                "d": delivery_id,
                "n": values.get("n", 1),
                "o": outcome,
                "status": values.get("status"),
                "error": values.get("error"),
                "body": values.get("body"),
            },
        )


def test_4_a_failing_test_send_is_marked_as_a_test(run: Run, clean_db: Engine) -> None:
    assert (
        run(
            "destinations", "add", "dead", "--type", "webhook", "--url", "http://127.0.0.1:9/x"
        ).code
        == 0
    )
    result = run("destinations", "test", "dead")
    assert result.code == 1, result
    assert scalar(clean_db, "SELECT count(*) FROM deliveries WHERE status = 'failed'") == 1
    assert scalar(clean_db, "SELECT count(*) FROM system_events") == 0
    retried = run("retry", "--failed", "--destination", "dead")
    assert retried.code == 0 and "0 deliveries queued" in retried.out, retried
    assert "1 test notification(s)" in retried.out
    assert "eventrouter:test" not in run("history").out
    assert "eventrouter:test" in run("history", "--show-system").out
    assert "eventrouter:test" not in run("deliveries", "--status", "failed").out
    assert "eventrouter:test" in run("deliveries", "--status", "failed", "--show-tests").out


def test_6_history_shows_cancelled_apart_from_failed(run: Run, seed: Seed) -> None:
    destination = seed.destination(name="hook")
    seed.delivery(seed.event(), destination, status="cancelled")
    out = run("history").out.splitlines()
    header, row = out[0].split(), out[1].split()
    assert header[-4:] == ["SUCCEEDED", "PENDING", "FAILED", "CANCELLED"]
    assert row[-4:] == ["0", "0", "0", "1"]


@pytest.mark.parametrize(
    ("variable", "value", "fragments"),
    [
        ("DATABASE_URL", "mysql://db/x", ("EVENTROUTER_DATABASE_URL", "postgresql://")),
        ("REDIS_URL", "localhost:6379", ("EVENTROUTER_REDIS_URL", "e.g.", "redis://")),
        ("RETRY_SCHEDULE", "5x", ("EVENTROUTER_RETRY_SCHEDULE=5x", "'5x' is not a duration")),
        ("ROUTER_BATCH_SIZE", "many", ("EVENTROUTER_ROUTER_BATCH_SIZE=many", "integer")),
    ],
)
def test_7_bad_settings_give_one_line_each(
    run: Run, monkeypatch: pytest.MonkeyPatch, variable: str, value: str, fragments: tuple[str]
) -> None:
    monkeypatch.setenv(f"EVENTROUTER_{variable}", value)
    assert_usage_error(run("history"), *fragments)


@pytest.mark.parametrize("scheme", ["postgres://", "postgresql://"])
def test_7_plain_postgres_urls_use_psycopg(
    run: Run, settings: Settings, monkeypatch: pytest.MonkeyPatch, scheme: str
) -> None:
    monkeypatch.setenv(
        "EVENTROUTER_DATABASE_URL", settings.database_url.replace("postgresql+psycopg://", scheme)
    )
    result = run("channels", "list")
    assert result.code == 0 and "delivery:failed" in result.out, result
    assert Settings(database_url=scheme + "h/db").database_url == "postgresql+psycopg://h/db"


def test_8_org_is_taken_before_and_after_the_command(run: Run, seed: Seed) -> None:
    seed.channel("x", org="acme", name="acme-channel")
    seed.event("payment:failed", org="acme")
    for args in (("--org", "acme", "history"), ("history", "--org", "acme")):
        result = run(*args)
        assert result.code == 0 and "payment:failed" in result.out, result
        assert result.err == ""
    assert "acme-channel" in run("channels", "list", "--org", "acme").out
    typo = run("history", "--org", "acm")
    assert typo.code == 0 and "org 'acm' has no channels, destinations or subscriptions" in typo.err


def test_9_history_name_is_re2_full_match_and_system_events_hidden(run: Run, seed: Seed) -> None:
    for name in ("payment:refunded", "payment", "delivery:failed", "eventrouter:test"):
        seed.event(name)

    def names(*args: str) -> list[str]:
        return sorted(e["name"] for e in json.loads(run("history", "--json", *args).out))

    assert names("--name", "payment") == ["payment"]
    assert names("--name", "payment:.*") == ["payment:refunded"]
    assert names() == ["payment", "payment:refunded"]
    assert names("--show-system") == [
        "delivery:failed",
        "eventrouter:test",
        "payment",
        "payment:refunded",
    ]
    assert_usage_error(run("history", "--name", "(?=x)"), "invalid --name pattern")


def test_10_show_every_response_prefixes_event_ids_and_retry_by_event(
    run: Run, seed: Seed, clean_db: Engine
) -> None:
    destination = seed.destination(name="pd")
    event_id = seed.event()
    ok = seed.delivery(event_id, destination, status="succeeded", attempt_count=1)
    attempt(clean_db, ok, "succeeded", status=202, body='{"dedup_key": "k-1"}')
    other = seed.event("disk:full")
    failed = seed.delivery(other, destination, status="failed", attempt_count=2)
    attempt(clean_db, failed, "retry", status=503, error="HTTP 503", n=1)
    attempt(clean_db, failed, "retry", status=503, error="HTTP 503", n=2)

    shown = run("show", event_id[:24] + "…")
    assert shown.code == 0, shown
    assert 'response: {"dedup_key": "k-1"}' in shown.out
    assert "1 attempt," not in shown.out and "1 attempt" in shown.out
    failed_out = run("show", other).out
    assert (
        "#1" in failed_out and "failed, retryable" in failed_out and "→ tried again" in failed_out
    )
    assert "→ gave up" in failed_out
    assert failed_out.count("503") == 2  # once per attempt, not twice
    assert_usage_error(run("show", "zz"), "not an event id")
    assert_usage_error(run("show", "0"), "not an event id")

    listing = run("deliveries").out.splitlines()
    assert listing[0].split()[:3] == ["ID", "EVENT_ID", "EVENT"]
    assert any(other in line for line in listing)

    retried = run("retry", other[:13])
    assert retried.code == 0 and f"1 delivery queued for retry: {failed}" in retried.out, retried
    assert scalar(clean_db, "SELECT status FROM deliveries WHERE id = :i", i=failed) == "pending"
    # a retried old delivery is listed first again
    assert run("deliveries").out.splitlines()[1].split()[0] == str(failed)
    assert_usage_error(run("retry", event_id), "no failed or cancelled delivery")
    assert_usage_error(run("retry"), "delivery ids, event ids, or --failed")


def test_11_hints_when_no_router_runs_and_why_nothing_was_retried(
    run: Run, seed: Seed, clean_db: Engine
) -> None:
    event_id = run("send", "payment:failed").out.strip()
    result = run("show", event_id)
    assert result.code == 2 and "in the stream, not yet routed" in result.err, result
    assert "is a router running?" in result.err

    seed.channel("payment:.*", name="payments")
    destination = seed.destination(name="hook")
    stored = seed.event()
    orphan = seed.delivery(stored, destination, status="failed", attempt_count=1)
    assert run("destinations", "remove", "hook").code == 0
    assert rows(clean_db, "SELECT destination_id FROM deliveries")[0].destination_id is None
    assert_usage_error(run("retry", str(orphan)), "its destination was removed")
    nothing = run("retry", "--failed")
    assert nothing.code == 0
    assert "0 deliveries queued for retry" in nothing.out
    assert "1 failed or cancelled ones whose destination was removed" in nothing.out
