"""PagerDuty end to end against a local Events API v2 stand-in: trigger and resolve
bodies, the returned dedup_key in the attempt row, 400 in PagerDuty's words, 429/5xx
retries and timeouts, through the real router and worker processes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.destination_helpers import attempts, route, send, wait_final
from tests.e2e.stack import Stack
from tests.providers import PagerDutyEvents
from tests.receiver import Receiver

KEY = "R01234567890123456789012345678AB"


@pytest.fixture
def pagerduty() -> Iterator[Receiver]:
    with Receiver(PagerDutyEvents()) as rx:
        yield rx


def config(rx: Receiver, **extra: object) -> dict[str, object]:
    return {"routing_key": KEY, "url": rx.url_for("/v2/enqueue"), **extra}


def test_trigger_records_the_returned_dedup_key(fresh: Stack, pagerduty: Receiver) -> None:
    route(fresh, "pagerduty", config(pagerduty, severity="warning"))
    event_id = send(fresh, payload={"message": "db-1 at 97%", "host": "db-1"})
    assert wait_final(fresh, event_id).status == "succeeded"
    [request] = pagerduty.requests()
    body = request.json
    assert body["routing_key"] == KEY and body["event_action"] == "trigger"
    assert body["dedup_key"] == event_id
    assert body["payload"]["summary"] == "[prod] disk:full: db-1 at 97%"
    assert body["payload"]["severity"] == "warning"
    assert body["payload"]["source"] == "eventrouter/default/prod"
    assert body["payload"]["custom_details"] == {"message": "db-1 at 97%", "host": "db-1"}
    [attempt] = attempts(fresh, event_id)
    assert (attempt.outcome, attempt.http_status) == ("succeeded", 202)
    assert json.loads(attempt.response_body)["dedup_key"] == event_id


def test_resolve_uses_the_payloads_dedup_key(fresh: Stack, pagerduty: Receiver) -> None:
    route(fresh, "pagerduty", config(pagerduty))
    trigger = send(fresh, payload={"summary": "disk full", "dedup_key": "disk:db-1"})
    resolve = send(fresh, payload={"event_action": "resolve", "dedup_key": "disk:db-1"})
    for event_id in (trigger, resolve):
        assert wait_final(fresh, event_id).status == "succeeded"
    bodies = {r.json["event_action"]: r.json for r in pagerduty.requests()}
    assert bodies["trigger"]["dedup_key"] == bodies["resolve"]["dedup_key"] == "disk:db-1"
    assert bodies["resolve"] == {
        "routing_key": KEY,
        "event_action": "resolve",
        "dedup_key": "disk:db-1",
    }


def test_400_is_permanent_with_pagerdutys_errors(fresh: Stack, pagerduty: Receiver) -> None:
    pagerduty.set_behaviour(PagerDutyEvents(default="invalid"))
    route(fresh, "pagerduty", config(pagerduty))
    event_id = send(fresh)
    final = wait_final(fresh, event_id)
    assert final.status == "failed" and pagerduty.count() == 1
    [attempt] = attempts(fresh, event_id)
    assert (attempt.outcome, attempt.http_status) == ("failed", 400)
    assert attempt.error == "PagerDuty rejected the event: Unknown routing key"
    assert '"status": "invalid event"' in attempt.response_body


def test_unknown_action_fails_without_sending(fresh: Stack, pagerduty: Receiver) -> None:
    route(fresh, "pagerduty", config(pagerduty))
    event_id = send(fresh, payload={"event_action": "resolved"})
    final = wait_final(fresh, event_id)
    assert final.status == "failed" and "'resolved'" in final.last_error
    assert pagerduty.count() == 0


def test_429_and_5xx_retry_then_deliver(fresh: Stack, pagerduty: Receiver) -> None:
    pagerduty.set_behaviour(PagerDutyEvents(["throttle", "error"]))
    route(fresh, "pagerduty", config(pagerduty), retry_schedule="1s,1s")
    event_id = send(fresh)
    assert wait_final(fresh, event_id).status == "succeeded"
    assert [(a.outcome, a.http_status) for a in attempts(fresh, event_id)] == [
        ("retry", 429),
        ("retry", 500),
        ("succeeded", 202),
    ]
    assert {r.json["dedup_key"] for r in pagerduty.requests()} == {event_id}


def test_timeout_retries(fresh: Stack, pagerduty: Receiver) -> None:
    pagerduty.set_behaviour(PagerDutyEvents(["slow"], delay=3.0))
    route(fresh, "pagerduty", config(pagerduty, timeout=0.5))
    event_id = send(fresh)
    assert wait_final(fresh, event_id).status == "succeeded"
    first, second = attempts(fresh, event_id)
    assert (first.outcome, first.error) == ("retry", "timed out after 0.5s")
    assert second.http_status == 202
