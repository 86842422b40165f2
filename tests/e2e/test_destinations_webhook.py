"""Webhooks end to end: templated, signed (verified with the standardwebhooks library),
rotated secrets, PUT and custom headers, and every failure class, through the real router
and worker processes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from eventrouter.router.destinations.signing import generate_secret
from tests.e2e.destination_helpers import attempts, route, send, wait_final
from tests.e2e.stack import Stack
from tests.receiver import Receiver, Response, always, ok, slow

TEMPLATE = (
    '{"alert": "${name} (${env})", "host": "${payload.host}", "load": ${payload.load}, '
    '"details": ${payload_json}, "sent_at": "${timestamp}"}'
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(ok()) as rx:
        yield rx


def test_signed_templated_put_with_custom_headers(fresh: Stack, receiver: Receiver) -> None:
    secret = generate_secret()
    route(
        fresh,
        "webhook",
        {
            "url": receiver.url_for("/incidents"),
            "method": "PUT",
            "template": TEMPLATE,
            "secret": secret,
            "headers": {"Authorization": "Bearer t0k", "X-Team": "db"},
        },
    )
    payload = {"host": 'db-1 "primary"\n', "load": 0.97, "note": "é"}
    event_id = send(fresh, payload=payload)
    assert wait_final(fresh, event_id).status == "succeeded"
    [request] = receiver.requests()
    assert (request.method, request.path) == ("PUT", "/incidents")
    assert request.headers["content-type"] == "application/json"
    assert request.headers["authorization"] == "Bearer t0k"
    assert request.headers["x-team"] == "db"
    assert request.headers["webhook-id"] == event_id
    assert Verifier(secret).verify(request.body, request.headers) == request.json
    body = request.json
    assert body["alert"] == "disk:full (prod)"
    assert body["host"] == 'db-1 "primary"\n' and body["load"] == 0.97
    assert body["details"] == payload
    [attempt] = attempts(fresh, event_id)
    assert (attempt.outcome, attempt.http_status) == ("succeeded", 200)


def test_rotated_secret_co_signs_during_the_grace_period(fresh: Stack, receiver: Receiver) -> None:
    old = generate_secret()
    route(fresh, "webhook", {"url": receiver.url_for("/h"), "secret": old})
    rotated = json.loads(
        fresh.cli("destinations", "rotate-secret", "dest", "--grace", "1h", "--json").stdout
    )
    fresh.wait_config_applied()
    event_id = send(fresh)
    assert wait_final(fresh, event_id).status == "succeeded"
    [request] = receiver.requests()
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Verifier(rotated["secret"]).verify(request.body, request.headers)
    Verifier(old).verify(request.body, request.headers)


def test_429_retry_after_is_honoured_then_delivered(fresh: Stack, receiver: Receiver) -> None:
    answers = iter([Response(429, "slow down", {"Retry-After": "2"}), Response(200, "ok")])
    receiver.set_behaviour(lambda _request, _n: next(answers))
    route(fresh, "webhook", {"url": receiver.url_for("/h")})
    event_id = send(fresh)
    assert wait_final(fresh, event_id).status == "succeeded"
    first, second = attempts(fresh, event_id)
    assert (first.outcome, first.http_status, first.response_body) == ("retry", 429, "slow down")
    assert (second.outcome, second.http_status) == ("succeeded", 200)
    gap = (second.started_at - first.started_at).total_seconds()
    assert gap >= 1.9  # Retry-After 2 replaced the 1 s schedule


def test_5xx_retries_until_the_schedule_ends(fresh: Stack, receiver: Receiver) -> None:
    receiver.set_behaviour(always(503, "maintenance"))
    route(fresh, "webhook", {"url": receiver.url_for("/h")})
    event_id = send(fresh)
    final = wait_final(fresh, event_id)
    assert final.status == "failed"
    assert final.last_error.startswith("gave up after 2 attempts: HTTP 503")
    assert [(a.outcome, a.http_status) for a in attempts(fresh, event_id)] == [
        ("retry", 503),
        ("retry", 503),
    ]


def test_4xx_is_permanent_and_410_disables(fresh: Stack, receiver: Receiver) -> None:
    receiver.set_behaviour(always(410, "gone for good"))
    route(fresh, "webhook", {"url": receiver.url_for("/h")})
    event_id = send(fresh)
    final = wait_final(fresh, event_id)
    assert final.status == "failed" and receiver.count() == 1
    [attempt] = attempts(fresh, event_id)
    assert (attempt.outcome, attempt.http_status, attempt.response_body) == (
        "failed",
        410,
        "gone for good",
    )
    assert fresh.scalar("SELECT enabled FROM destinations WHERE name = 'dest'") is False


def test_timeout_is_retried_and_recorded(fresh: Stack, receiver: Receiver) -> None:
    receiver.set_behaviour(slow(3.0))
    route(fresh, "webhook", {"url": receiver.url_for("/h"), "timeout": 0.5})
    event_id = send(fresh)
    final = wait_final(fresh, event_id)
    assert final.status == "failed"
    recorded = attempts(fresh, event_id)
    assert [(a.outcome, a.http_status, a.error) for a in recorded] == [
        ("retry", None, "timed out after 0.5s")
    ] * 2
    assert all(400 <= a.duration_ms < 2000 for a in recorded)
