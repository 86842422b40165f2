"""The core promise, end to end: publish → route → deliver → record, with real processes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import text

from eventrouter import Settings, publish, publish_many
from tests.e2e.destination_helpers import route
from tests.e2e.stack import Stack
from tests.receiver import Receiver, Request, Response, fail_first, not_found, ok, wait_for


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(ok()) as rx:
        yield rx


def configure(
    stack: Stack, url: str, *, retry: str = "1s,1s,1s", timeout: float | None = None
) -> None:
    """``payment:.*`` events → webhook ``dest`` at ``url``."""
    config: dict[str, Any] = {"url": url} if timeout is None else {"url": url, "timeout": timeout}
    route(stack, "webhook", config, retry_schedule=retry, pattern="payment:.*")


def test_fifty_events_retried_twice_then_delivered(fresh: Stack, receiver: Receiver) -> None:
    receiver.set_behaviour(fail_first(2))
    configure(fresh, receiver.url_for("/hook"))
    ids = [
        publish("payment:failed", {"invoice": f"in_{i}", "amount": i}, settings=fresh.settings)
        for i in range(50)
    ]
    fresh.wait_settled(50, timeout=90)

    statuses = fresh.rows("SELECT status, attempt_count FROM deliveries")
    assert len(statuses) == 50
    assert {(r.status, r.attempt_count) for r in statuses} == {("succeeded", 3)}
    attempts = fresh.rows(
        "SELECT delivery_id, array_agg(outcome ORDER BY attempt_number) AS outcomes, "
        "array_agg(http_status ORDER BY attempt_number) AS codes, "
        "array_agg(attempt_number ORDER BY attempt_number) AS numbers "
        "FROM delivery_attempts GROUP BY delivery_id"
    )
    assert len(attempts) == 50
    for row in attempts:
        assert row.outcomes == ["retry", "retry", "succeeded"]
        assert row.codes == [503, 503, 200]
        assert row.numbers == [1, 2, 3]
    # Every try of an event carried the same webhook-id: the event id.
    by_id = receiver.by_webhook_id()
    assert set(by_id) == set(ids)
    assert all(len(requests) == 3 for requests in by_id.values())
    body = by_id[ids[7]][-1].json
    assert body["id"] == ids[7] and body["name"] == "payment:failed"
    assert body["payload"] == {"invoice": "in_7", "amount": 7}
    assert set(body) == {"id", "name", "org", "env", "timestamp", "payload"}

    summary = fresh.rows("SELECT total, succeeded, pending, failed FROM event_delivery_summary")
    assert {tuple(r) for r in summary} == {(1, 1, 0, 0)}


def test_unmatched_events_are_recorded_with_no_deliveries(fresh: Stack, receiver: Receiver) -> None:
    configure(fresh, receiver.url_for("/hook"))
    matched = publish("payment:failed", {}, settings=fresh.settings)
    unmatched = publish_many(
        [("user:signed_up", {"u": 1}), ("paymentfailed", {})], settings=fresh.settings
    )
    fresh.wait_settled(3)
    history = json.loads(fresh.cli("history", "--json").stdout)
    totals = {row["id"]: row["total"] for row in history}
    assert totals == {matched: 1, unmatched[0]: 0, unmatched[1]: 0}
    assert receiver.count() == 1


def test_404_fails_after_one_attempt_and_retry_failed_recovers(
    fresh: Stack, receiver: Receiver
) -> None:
    receiver.set_behaviour(not_found())
    configure(fresh, receiver.url_for("/hook"))
    ids = [publish("payment:failed", {"n": i}, settings=fresh.settings) for i in range(3)]
    fresh.wait_settled(3)
    rows = fresh.rows("SELECT status, attempt_count, last_error FROM deliveries")
    assert [(r.status, r.attempt_count) for r in rows] == [("failed", 1)] * 3
    assert all("404" in r.last_error for r in rows)
    failed = json.loads(fresh.cli("deliveries", "--status", "failed", "--json").stdout)
    assert len(failed) == 3

    receiver.set_behaviour(ok())  # the receiver is fixed
    out = fresh.cli("retry", "--failed").stdout
    assert "3 deliveries queued for retry" in out
    fresh.wait_settled(3)
    rows = fresh.rows("SELECT status, attempt_count FROM deliveries")
    assert [(r.status, r.attempt_count) for r in rows] == [("succeeded", 2)] * 3
    numbers = fresh.rows(
        "SELECT attempt_number, outcome FROM delivery_attempts ORDER BY delivery_id, attempt_number"
    )
    assert [(r.attempt_number, r.outcome) for r in numbers] == [(1, "failed"), (2, "succeeded")] * 3
    shown = fresh.cli("show", ids[0]).stdout
    assert "HTTP 404" in shown and "succeeded" in shown


def test_timeouts_are_retried_and_recorded(fresh: Stack, receiver: Receiver) -> None:
    def slow_first(request: Request, seen: int) -> Response:
        return Response(200, "late", delay_seconds=3.0) if seen == 1 else Response(200, "ok")

    receiver.set_behaviour(slow_first)
    configure(fresh, receiver.url_for("/hook"), timeout=0.5)
    publish("payment:failed", {"n": 1}, settings=fresh.settings)
    fresh.wait_settled(1, timeout=60)
    attempts = fresh.rows(
        "SELECT outcome, http_status, error, duration_ms FROM delivery_attempts "
        "ORDER BY attempt_number"
    )
    assert [a.outcome for a in attempts] == ["retry", "succeeded"]
    assert attempts[0].http_status is None
    assert "timed out after 0.5s" in attempts[0].error
    assert 400 <= attempts[0].duration_ms < 3000


def test_config_changes_apply_without_restart(fresh: Stack, receiver: Receiver) -> None:
    configure(fresh, receiver.url_for("/hook"))
    fresh.cli("subscriptions", "disable", "all-to-dest")
    fresh.wait_config_applied()
    publish("payment:failed", {"while": "disabled"}, settings=fresh.settings)
    fresh.cli("subscriptions", "enable", "all-to-dest")
    fresh.wait_config_applied()
    publish("payment:failed", {"while": "enabled"}, settings=fresh.settings)
    fresh.wait_settled(2)
    wait_for(lambda: receiver.count() >= 1)
    assert [r.json["payload"] for r in receiver.requests()] == [{"while": "enabled"}]


def test_env_scoped_subscription(fresh: Stack, receiver: Receiver) -> None:
    fresh.cli("channels", "add", "runs", "--pattern", "run:.*")
    fresh.cli(
        "destinations", "add", "prod-hook", "--type", "webhook", "--url", receiver.url_for("/prod")
    )
    fresh.cli(
        "destinations", "add", "all-hook", "--type", "webhook", "--url", receiver.url_for("/all")
    )
    fresh.cli(
        "subscriptions",
        "add",
        "prod-only",
        "--channel",
        "runs",
        "--destination",
        "prod-hook",
        "--env",
        "production",
    )
    fresh.cli(
        "subscriptions",
        "add",
        "everywhere",
        "--channel",
        "runs",
        "--destination",
        "all-hook",
        "--destination",
        "prod-hook",
    )
    fresh.wait_config_applied()
    publish("run:failed", {}, env="production", settings=fresh.settings)
    publish("run:failed", {}, env="staging", settings=fresh.settings)
    fresh.wait_settled(2)
    counts = {path: receiver.count(path) for path in ("/prod", "/all")}
    # prod-hook is named by both subscriptions yet gets one delivery per event.
    assert counts == {"/prod": 2, "/all": 2}


def test_a_repeated_idempotency_key_returns_the_first_id_and_is_delivered_once(
    fresh: Stack, receiver: Receiver
) -> None:
    configure(fresh, receiver.url_for("/hook"))
    first = publish(
        "payment:failed", {"n": 1}, idempotency_key="in_1-failed", settings=fresh.settings
    )
    fresh.wait_settled(1)
    second = publish(
        "payment:failed", {"n": 2}, idempotency_key="in_1-failed", settings=fresh.settings
    )
    third = fresh.cli(
        "send", "payment:failed", "--payload", '{"n": 3}', "--idempotency-key", "in_1-failed"
    ).stdout.strip()
    assert second == third == first
    marker = publish("payment:failed", {"n": 4}, settings=fresh.settings)
    fresh.wait_settled(2)  # the marker was routed after the repeats: they are not coming
    assert [r.webhook_id for r in receiver.requests()] == [first, marker]
    assert receiver.requests()[0].json["payload"] == {"n": 1}
    assert fresh.scalar("SELECT count(*) FROM events") == 2
    assert fresh.scalar("SELECT count(*) FROM deliveries") == 2


def test_publish_from_cli_prints_the_event_id(fresh: Stack, receiver: Receiver) -> None:
    configure(fresh, receiver.url_for("/hook"))
    event_id = fresh.cli(
        "send", "payment:failed", "--payload", '{"a": 1}', "--env", "qa"
    ).stdout.strip()
    fresh.wait_settled(1)
    request = receiver.requests()[0]
    assert request.webhook_id == event_id
    assert request.json["env"] == "qa"
    assert request.headers["content-type"] == "application/json"


def test_publish_error_when_redis_is_unreachable() -> None:
    settings = Settings(redis_url="redis://127.0.0.1:1/0", publish_retries=1)
    from eventrouter import PublishError

    with pytest.raises(PublishError, match=r"redis://127\.0\.0\.1:1/0"):
        publish("payment:failed", {}, settings=settings)


def test_a_destination_removed_while_a_delivery_is_in_flight(
    fresh: Stack, receiver: Receiver
) -> None:
    """The delivery being sent comes back (a 503) to no destination: it ends `cancelled`,
    not `pending` forever."""
    arrived, release = threading.Event(), threading.Event()

    def held(request: Request, seen: int) -> Response:
        arrived.set()
        release.wait(30)
        return Response(503, b"busy")

    receiver.set_behaviour(held)
    # The request must still be open when the removal lands: a timeout longer than the
    # hold, or a slow `destinations remove` (seconds under load) would race the stack's
    # 5 s request timeout into a retry.
    configure(fresh, receiver.url_for("/hook"), timeout=60)
    publish("payment:failed", {"n": 1}, settings=fresh.settings)
    assert arrived.wait(30), fresh.logs()
    fresh.cli("destinations", "remove", "dest", "--force")
    release.set()
    wait_for(
        lambda: fresh.scalar("SELECT status FROM deliveries") == "cancelled",
        30,
        "the orphaned delivery to be cancelled",
    )
    (row,) = fresh.rows("SELECT destination_id, last_error, attempt_count FROM deliveries")
    assert (row.destination_id, row.last_error, row.attempt_count) == (
        None,
        "destination removed",
        1,
    )
    assert receiver.count() == 1


def test_the_worker_log_names_a_renamed_destination_by_its_new_name(
    fresh: Stack, receiver: Receiver
) -> None:
    """Workers remember names only as long as routers keep a config (the refresh interval,
    0.5 s here), so a batch after a rename is logged under the new name."""
    configure(fresh, receiver.url_for("/hook"))
    publish("payment:failed", {"n": 1}, settings=fresh.settings)
    fresh.wait_settled(1)
    wait_for(lambda: "destination dest (id " in fresh.logs(), 10, "the batch's log line")
    # No command renames a destination yet; this is the row a rename would leave.
    with fresh.engine.begin() as conn:
        conn.execute(text("UPDATE destinations SET name = 'dest-renamed' WHERE name = 'dest'"))
    fresh.wait_config_applied()
    time.sleep(1.0)  # past the worker's 0.5 s memory of the old name
    publish("payment:failed", {"n": 2}, settings=fresh.settings)
    fresh.wait_settled(2)
    wait_for(lambda: "destination dest-renamed (id " in fresh.logs(), 10, "the new name in the log")
