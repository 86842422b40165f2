"""workers.delivery.deliver_batch on real Postgres against a local HTTP receiver."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from eventrouter.router.destinations import SendContext
from eventrouter.router.destinations.transport import http_client
from eventrouter.router.settings import Settings
from eventrouter.workers.bookkeeping import BatchSummary
from eventrouter.workers.delivery import deliver_batch
from tests.helpers import Seed, rows, scalar
from tests.receiver import (
    Receiver,
    Request,
    Response,
    always,
    fail_first,
    gone,
    not_found,
    ok,
    rate_limited,
    slow,
)


@pytest.fixture(params=["httpx", "worker"])
def http(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    """Every outcome is checked with httpx's own transport and with the worker's client
    (WebhookClient over LeanHTTPTransport): the adapters must not see a difference."""
    worker = request.param == "worker"
    client = http_client(5.0) if worker else httpx.Client(follow_redirects=False)
    yield client
    client.close()


@pytest.fixture
def ctx(http: httpx.Client) -> SendContext:
    return SendContext(http=http, default_timeout=5.0)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(ok()) as rx:
        yield rx


class World:
    """One destination pointing at the receiver, and helpers around deliver_batch."""

    def __init__(
        self, seed: Seed, engine: Engine, ctx: SendContext, settings: Settings, rx: Receiver
    ) -> None:
        self.seed, self.engine, self.ctx, self.settings, self.rx = seed, engine, ctx, settings, rx
        self.destination = seed.destination(rx.url_for("/hook"))

    def pending(self, n: int = 1, destination: int | None = None, **kwargs: Any) -> list[int]:
        """``n`` events, each with one pending delivery (to the world's destination)."""
        dest = destination or self.destination
        return [
            self.seed.delivery(self.seed.event(payload={"i": i}), dest, **kwargs) for i in range(n)
        ]

    def deliver(self, ids: list[int], destination: int | None = None) -> BatchSummary:
        return deliver_batch(
            self.engine, self.ctx, self.settings, destination or self.destination, ids
        )

    def delivery(self, delivery_id: int) -> Any:
        (row,) = rows(
            self.engine,
            "SELECT *, next_attempt_at - now() AS due_in, event_id::text AS event "
            "FROM deliveries WHERE id = :id",
            id=delivery_id,
        )
        return row

    def attempts(self, delivery_id: int) -> list[Any]:
        return rows(
            self.engine,
            "SELECT * FROM delivery_attempts WHERE delivery_id = :id ORDER BY attempt_number, id",
            id=delivery_id,
        )

    def make_due(self, delivery_id: int) -> None:
        with self.engine.begin() as conn:
            conn.exec_driver_sql(
                "UPDATE deliveries SET next_attempt_at = now() WHERE id = %s", (delivery_id,)
            )


@pytest.fixture
def world(
    seed: Seed, clean_db: Engine, ctx: SendContext, settings: Settings, receiver: Receiver
) -> World:
    return World(seed, clean_db, ctx, settings, receiver)


# -- outcomes -------------------------------------------------------------------------------
def test_success_records_one_attempt_and_succeeds(world: World) -> None:
    (delivery_id,) = world.pending()
    summary = world.deliver([delivery_id])
    assert summary.as_dict() == {
        "claimed": 1,
        "succeeded": 1,
        "retrying": 0,
        "failed": 0,
        "cancelled": 0,
        "deferred": 0,
        "released": 0,
        "stale": 0,
    }
    row = world.delivery(delivery_id)
    assert (row.status, row.attempt_count, row.last_error) == ("succeeded", 1, None)
    assert row.lease_expires_at is None and row.dispatched_at is None
    (attempt,) = world.attempts(delivery_id)
    assert (attempt.attempt_number, attempt.outcome, attempt.http_status) == (1, "succeeded", 200)
    assert attempt.error is None
    assert attempt.response_body == "ok"
    assert attempt.duration_ms >= 0

    (request,) = world.rx.requests()
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["content-type"] == "application/json"
    assert request.webhook_id == row.event
    assert request.json == {
        "id": row.event,
        "name": "payment:failed",
        "org": "default",
        "env": None,
        "timestamp": request.json["timestamp"],
        "payload": {"i": 0},
    }
    assert request.json["timestamp"].endswith("Z")


def test_rows_are_claimed_before_the_request_is_sent(world: World) -> None:
    (delivery_id,) = world.pending()
    seen: list[Any] = []

    def peek(_request: Request, _n: int) -> Response:
        seen.append(world.delivery(delivery_id))
        return Response(200)

    world.rx.set_behaviour(peek)
    world.deliver([delivery_id])
    (during,) = seen
    assert during.status == "delivering"
    assert during.attempt_count == 1
    assert during.lease_expires_at is not None
    assert world.delivery(delivery_id).status == "succeeded"


def test_503_schedules_a_retry(world: World) -> None:
    world.rx.set_behaviour(fail_first(5, status=503))
    (delivery_id,) = world.pending()
    before = datetime.now(UTC)
    summary = world.deliver([delivery_id])
    after = datetime.now(UTC)
    assert (summary.claimed, summary.retrying) == (1, 1)
    row = world.delivery(delivery_id)
    assert row.status == "pending"
    assert row.attempt_count == 1
    # Schedule "1s,1s" with ±20% jitter, counted from the moment the attempt ended (some time
    # within the call): measured against the clock around the call, not against a later
    # now(), so a stall of the test process on a loaded machine cannot shift it.
    jitter = timedelta(seconds=0.2)
    due = row.next_attempt_at
    assert before + timedelta(seconds=1) - jitter <= due <= after + timedelta(seconds=1) + jitter
    assert row.last_error == "HTTP 503 Service Unavailable"
    assert row.lease_expires_at is None
    (attempt,) = world.attempts(delivery_id)
    assert (attempt.outcome, attempt.http_status) == ("retry", 503)
    assert attempt.response_body == "try 1 fails"


def test_429_retry_after_sets_the_next_attempt(world: World) -> None:
    world.rx.set_behaviour(rate_limited(30))
    (delivery_id,) = world.pending()
    world.deliver([delivery_id])
    row = world.delivery(delivery_id)
    assert row.status == "pending"
    assert 29 <= row.due_in.total_seconds() <= 30.5  # Retry-After, not the 1s schedule


def test_404_fails_permanently(world: World) -> None:
    world.rx.set_behaviour(not_found())
    (delivery_id,) = world.pending()
    summary = world.deliver([delivery_id])
    assert summary.failed == 1
    row = world.delivery(delivery_id)
    assert (row.status, row.last_error) == ("failed", "HTTP 404 Not Found")
    (attempt,) = world.attempts(delivery_id)
    assert (attempt.outcome, attempt.http_status) == ("failed", 404)


def test_redirect_is_not_followed(world: World) -> None:
    world.rx.set_behaviour(always(301, Location="http://127.0.0.1:9/moved"))
    (delivery_id,) = world.pending()
    world.deliver([delivery_id])
    row = world.delivery(delivery_id)
    assert row.status == "failed"
    assert "http://127.0.0.1:9/moved" in row.last_error
    assert world.rx.count() == 1


def test_410_disables_the_destination_and_cancels_its_pending_deliveries(
    world: World, seed: Seed
) -> None:
    world.rx.set_behaviour(gone())
    first, *others = world.pending(3)
    other_destination = seed.destination(world.rx.url_for("/other"))
    (unrelated,) = world.pending(1, destination=other_destination)

    summary = world.deliver([first])
    assert (summary.failed, summary.cancelled) == (1, 2)
    assert world.delivery(first).status == "failed"
    for delivery_id in others:
        row = world.delivery(delivery_id)
        assert row.status == "cancelled"
        assert "disabled automatically" in row.last_error
    assert world.delivery(unrelated).status == "pending"
    (destination,) = rows(
        world.engine, "SELECT * FROM destinations WHERE id = :id", id=world.destination
    )
    assert destination.enabled is False
    assert "410" in destination.disabled_reason
    assert world.rx.count() == 1


@pytest.mark.timeout(30)
def test_timeout_is_a_retry_that_names_the_timeout(world: World, seed: Seed) -> None:
    world.rx.set_behaviour(slow(5))
    destination = seed.destination(world.rx.url_for("/slow"), timeout=0.2)
    (delivery_id,) = world.pending(destination=destination)
    summary = world.deliver([delivery_id], destination=destination)
    assert summary.retrying == 1
    row = world.delivery(delivery_id)
    assert row.status == "pending"
    assert row.last_error == "timed out after 0.2s"
    (attempt,) = world.attempts(delivery_id)
    assert (attempt.outcome, attempt.http_status) == ("retry", None)
    assert "timed out" in attempt.error
    assert attempt.duration_ms < 3000


def test_connection_refused_is_a_retry(world: World, seed: Seed) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nobody listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    destination = seed.destination(f"http://127.0.0.1:{port}/hook")
    (delivery_id,) = world.pending(destination=destination)
    world.deliver([delivery_id], destination=destination)
    row = world.delivery(delivery_id)
    assert row.status == "pending"
    assert "ConnectError" in row.last_error
    assert world.attempts(delivery_id)[0].outcome == "retry"


def test_exhausted_attempts_fail_with_gave_up(world: World) -> None:
    world.rx.set_behaviour(always(500))
    (delivery_id,) = world.pending()
    for attempt in (1, 2, 3):  # schedule "1s,1s": three attempts
        world.make_due(delivery_id)
        world.deliver([delivery_id])
        assert world.delivery(delivery_id).attempt_count == attempt
    row = world.delivery(delivery_id)
    assert row.status == "failed"
    assert row.last_error == "gave up after 3 attempts: HTTP 500 Internal Server Error"
    assert [a.outcome for a in world.attempts(delivery_id)] == ["retry", "retry", "retry"]
    world.make_due(delivery_id)
    assert world.deliver([delivery_id]).claimed == 0  # failed is final
    assert world.rx.count() == 3


def test_destination_retry_schedule_overrides_the_default(world: World, seed: Seed) -> None:
    world.rx.set_behaviour(always(503))
    destination = seed.destination(world.rx.url_for("/once"), retry_schedule="")
    (delivery_id,) = world.pending(destination=destination)
    world.deliver([delivery_id], destination=destination)
    row = world.delivery(delivery_id)
    assert row.status == "failed"
    assert row.last_error.startswith("gave up after 1 attempts")


def test_same_webhook_id_on_every_attempt(world: World) -> None:
    world.rx.set_behaviour(fail_first(2))
    (delivery_id,) = world.pending()
    for _ in range(3):
        world.make_due(delivery_id)
        world.deliver([delivery_id])
    row = world.delivery(delivery_id)
    assert (row.status, row.attempt_count) == ("succeeded", 3)
    requests = world.rx.requests()
    assert [r.webhook_id for r in requests] == [row.event] * 3
    assert len({r.json["id"] for r in requests}) == 1
    assert [(a.attempt_number, a.outcome) for a in world.attempts(delivery_id)] == [
        (1, "retry"),
        (2, "retry"),
        (3, "succeeded"),
    ]


# -- duplicates and cancellation -----------------------------------------------------------
def test_duplicate_task_sends_nothing(world: World) -> None:
    ids = world.pending(2)
    world.deliver(ids)
    again = world.deliver(ids)
    assert again.claimed == 0
    assert world.rx.count() == 2
    assert scalar(world.engine, "SELECT count(*) FROM delivery_attempts") == 2


def test_duplicate_task_does_not_send_a_retry_early(world: World) -> None:
    world.rx.set_behaviour(rate_limited(60))
    (delivery_id,) = world.pending()
    world.deliver([delivery_id])
    assert world.deliver([delivery_id]).claimed == 0
    assert world.rx.count() == 1


def test_task_only_claims_deliveries_of_its_destination(world: World, seed: Seed) -> None:
    other = seed.destination(world.rx.url_for("/other"))
    (mine,) = world.pending()
    (theirs,) = world.pending(destination=other)
    summary = world.deliver([mine, theirs])
    assert summary.claimed == 1
    assert world.delivery(theirs).status == "pending"
    assert [r.path for r in world.rx.requests()] == ["/hook"]


def test_disabled_destination_cancels_the_batch(world: World, seed: Seed) -> None:
    destination = seed.destination(world.rx.url_for("/off"), enabled=False)
    ids = world.pending(3, destination=destination)
    summary = world.deliver(ids, destination=destination)
    assert (summary.claimed, summary.cancelled) == (0, 3)
    for delivery_id in ids:
        row = world.delivery(delivery_id)
        assert (row.status, row.last_error) == ("cancelled", "destination disabled")
    assert world.rx.count() == 0
    assert scalar(world.engine, "SELECT count(*) FROM delivery_attempts") == 0


def test_removed_destination_cancels_the_batch(world: World) -> None:
    ids = world.pending(2)
    with world.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM destinations WHERE id = %s", (world.destination,))
    summary = world.deliver(ids)
    assert summary.cancelled == 2
    assert {world.delivery(i).last_error for i in ids} == {"destination removed"}
    assert world.rx.count() == 0


def test_invalid_stored_config_fails_the_delivery_without_sending(world: World, seed: Seed) -> None:
    destination = seed.destination(config={"url": "ftp://example.com/hook"})
    (delivery_id,) = world.pending(destination=destination)
    world.deliver([delivery_id], destination=destination)
    row = world.delivery(delivery_id)
    assert row.status == "failed"
    assert row.last_error.startswith("destination config is invalid")
    assert world.rx.count() == 0


# -- batches and requests --------------------------------------------------------------------
def test_a_batch_records_each_outcome(world: World) -> None:
    def by_payload(request: Request, _n: int) -> Response:
        return Response(200 if request.json["payload"]["i"] % 2 == 0 else 503)

    world.rx.set_behaviour(by_payload)
    ids = world.pending(6)
    summary = world.deliver(ids)
    assert (summary.claimed, summary.succeeded, summary.retrying) == (6, 3, 3)
    statuses = [world.delivery(i).status for i in ids]
    assert statuses == ["succeeded", "pending"] * 3
    assert scalar(world.engine, "SELECT count(*) FROM delivery_attempts") == 6


def test_custom_headers_method_and_a_single_user_agent(world: World, seed: Seed) -> None:
    destination = seed.destination(
        world.rx.url_for("/put"),
        method="PUT",
        headers={"Authorization": "Bearer s3cret", "User-Agent": "acme-hooks/2"},
    )
    (delivery_id,) = world.pending(destination=destination)
    world.deliver([delivery_id], destination=destination)
    (request,) = world.rx.requests()
    assert request.method == "PUT"
    assert request.headers["authorization"] == "Bearer s3cret"
    assert request.header_values("user-agent") == ["acme-hooks/2"]
    assert request.header_values("content-type") == ["application/json"]


def test_response_body_is_kept_as_a_bounded_excerpt(
    world: World, http: httpx.Client, settings: Settings
) -> None:
    world.rx.set_behaviour(always(200, "x" * 1000))
    (delivery_id,) = world.pending()
    small = SendContext(http=http, excerpt_bytes=10)
    deliver_batch(world.engine, small, settings, world.destination, [delivery_id])
    (attempt,) = world.attempts(delivery_id)
    assert attempt.response_body == "x" * 10 + "…[truncated]"
