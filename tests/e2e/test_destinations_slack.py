"""Slack end to end against a local stand-in answering as Slack documents: incoming
webhooks and chat.postMessage, Block Kit shape and limits, every error class, 429 with
Retry-After, timeouts, and the rate limit shared by the worker processes."""

from __future__ import annotations

import itertools

import pytest

from tests.e2e.destination_helpers import attempts, route, send, wait_final
from tests.e2e.stack import Stack
from tests.providers import SlackApi, SlackWebhook
from tests.receiver import Receiver, wait_for

TOKEN = "xoxb-1111-2222-abcdefghijkl"


def test_incoming_webhook_posts_rich_blocks(fresh: Stack) -> None:
    with Receiver(SlackWebhook()) as slack:
        route(fresh, "slack", {"webhook_url": slack.url_for("/services/T0/B0/abc")})
        payload = {
            "message": "db-1 at 97%",
            "host": "db-1",
            **{f"disk{i}": f"{90 + i}%" for i in range(12)},
        }
        event_id = send(fresh, name="disk:" + "x" * 180, payload=payload)
        assert wait_final(fresh, event_id).status == "succeeded"
        [request] = slack.requests()
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    body = request.json
    assert body["text"].startswith("[prod] disk:xxx") and body["text"].endswith(": db-1 at 97%")
    header, text, fields, context = body["blocks"]
    assert header["type"] == "header"
    assert len(header["text"]["text"]) == 150 and header["text"]["text"].endswith("…")
    assert text["text"]["text"] == "db-1 at 97%"
    assert len(fields["fields"]) == 10 and fields["fields"][-1]["text"] == "_…and 4 more fields_"
    assert context["type"] == "context"
    [attempt] = attempts(fresh, event_id)
    assert (attempt.outcome, attempt.http_status, attempt.response_body) == ("succeeded", 200, "ok")


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("invalid_payload", 400),
        ("action_prohibited", 403),
        ("channel_not_found", 404),
        ("channel_is_archived", 410),
    ],
)
def test_webhook_errors_are_permanent_in_slacks_words(fresh: Stack, code: str, status: int) -> None:
    with Receiver(SlackWebhook(default=code)) as slack:
        route(fresh, "slack", {"webhook_url": slack.url_for("/services/T0/B0/abc")})
        event_id = send(fresh)
        final = wait_final(fresh, event_id)
        assert slack.count() == 1
    assert final.status == "failed" and code in final.last_error
    [attempt] = attempts(fresh, event_id)
    assert (attempt.outcome, attempt.http_status, attempt.response_body) == ("failed", status, code)
    enabled = fresh.scalar("SELECT enabled FROM destinations WHERE name = 'dest'")
    assert enabled is (status != 410)


def test_webhook_rollup_error_retries(fresh: Stack) -> None:
    with Receiver(SlackWebhook(["rollup_error"])) as slack:
        route(fresh, "slack", {"webhook_url": slack.url_for("/services/T0/B0/abc")})
        event_id = send(fresh)
        assert wait_final(fresh, event_id).status == "succeeded"
    assert [(a.outcome, a.http_status) for a in attempts(fresh, event_id)] == [
        ("retry", 500),
        ("succeeded", 200),
    ]


def test_bot_token_posts_to_the_channel(fresh: Stack) -> None:
    with Receiver(SlackApi(TOKEN)) as slack:
        route(
            fresh,
            "slack",
            {"bot_token": TOKEN, "channel": "C0123456789", "api_url": slack.url_for("/api")},
        )
        event_id = send(fresh)
        assert wait_final(fresh, event_id).status == "succeeded"
        [request] = slack.requests()
    assert request.path == "/api/chat.postMessage"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json["channel"] == "C0123456789"
    assert request.json["blocks"][0]["text"]["text"] == "disk:full"
    [attempt] = attempts(fresh, event_id)
    assert attempt.outcome == "succeeded" and '"ok": true' in attempt.response_body


@pytest.mark.parametrize(
    "code",
    ["channel_not_found", "not_in_channel", "is_archived", "missing_scope", "token_revoked"],
)
def test_bot_errors_are_permanent(fresh: Stack, code: str) -> None:
    with Receiver(SlackApi(TOKEN, default=code)) as slack:
        route(
            fresh, "slack", {"bot_token": TOKEN, "channel": "C1", "api_url": slack.url_for("/api")}
        )
        event_id = send(fresh)
        final = wait_final(fresh, event_id)
    assert final.status == "failed"
    [attempt] = attempts(fresh, event_id)
    assert attempt.outcome == "failed" and f"Slack API error: {code}" in attempt.error
    assert f'"error": "{code}"' in attempt.response_body


def test_wrong_token_is_invalid_auth(fresh: Stack) -> None:
    with Receiver(SlackApi(TOKEN)) as slack:
        route(
            fresh,
            "slack",
            {"bot_token": "xoxb-wrong", "channel": "C1", "api_url": slack.url_for("/api")},
        )
        event_id = send(fresh)
        final = wait_final(fresh, event_id)
    assert final.status == "failed" and "invalid_auth" in final.last_error


def test_429_with_retry_after_then_fatal_error_then_ok(fresh: Stack) -> None:
    with Receiver(SlackApi(TOKEN, ["ratelimited", "fatal_error"], retry_after="2")) as slack:
        route(
            fresh,
            "slack",
            {"bot_token": TOKEN, "channel": "C1", "api_url": slack.url_for("/api")},
            retry_schedule="1s,1s",
        )
        event_id = send(fresh)
        assert wait_final(fresh, event_id).status == "succeeded"
    first, second, third = attempts(fresh, event_id)
    assert (first.outcome, first.http_status) == ("retry", 429)
    assert "ratelimited" in first.error
    assert (second.outcome, second.error) == ("retry", "Slack API error: fatal_error")
    assert third.outcome == "succeeded"
    assert (second.started_at - first.started_at).total_seconds() >= 1.9


def test_timeout_retries(fresh: Stack) -> None:
    with Receiver(SlackWebhook(["slow"], delay=3.0)) as slack:
        route(fresh, "slack", {"webhook_url": slack.url_for("/services/T0/B0/abc"), "timeout": 0.5})
        event_id = send(fresh)
        assert wait_final(fresh, event_id).status == "succeeded"
    first, second = attempts(fresh, event_id)
    assert (first.outcome, first.error) == ("retry", "timed out after 0.5s")
    assert second.outcome == "succeeded"


def test_a_storm_is_spread_by_the_shared_rate_limit(fresh: Stack) -> None:
    with Receiver(SlackWebhook()) as slack:
        route(
            fresh,
            "slack",
            {"webhook_url": slack.url_for("/services/T0/B0/storm"), "rate_limit": 4, "burst": 1},
        )
        ids = [send(fresh, payload={"i": i}) for i in range(8)]
        for event_id in ids:
            assert wait_final(fresh, event_id).status == "succeeded"
        wait_for(lambda: slack.count() == 8, 5)
        arrivals = sorted(r.received_at for r in slack.requests())
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 0.2, gaps  # 4/s → 250 ms apart, across both worker processes
    numbers = fresh.rows("SELECT attempt_number, outcome FROM delivery_attempts")
    assert {(r.attempt_number, r.outcome) for r in numbers} == {(1, "succeeded")}
