"""Slack interactivity end to end, as the README walks a new user through it: a real
router, worker and API process, a Slack stand-in that records chat.postMessage /
chat.update / response_url calls, and signed clicks sent the way Slack sends them.

A click on Approve becomes one ``approval:approved`` delivered to the runbook service's
webhook and one ``chat.update``; replays, forged and stale requests change nothing; an
unanswered request expires once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from eventrouter import publish
from eventrouter.router.control import Caller, Control
from eventrouter.router.models.configuration import ChannelIn, DestinationIn, SubscriptionIn
from tests.e2e.stack import Stack
from tests.providers import SlackApi, SlackApp
from tests.receiver import Receiver, wait_for

TOKEN = "xoxb-1111-2222-abcdefghijkl"
SECRET = "8f742231b10e8888abcd99edabcd00d1"
CHANNEL = "C0123456789"
ALICE, BOB, MALLORY = "U0ALICE", "U0BOB", "U0MALLORY"


@dataclass
class Setup:
    stack: Stack
    api: str
    slack: Receiver
    slack_api: SlackApi
    runbook: Receiver
    app: SlackApp


@pytest.fixture(scope="module")
def setup(stack: Stack) -> Iterator[Setup]:
    slack_api = SlackApi(TOKEN)
    with Receiver(slack_api) as slack, Receiver() as runbook:
        process, api = stack.start_api()
        yield Setup(stack, api, slack, slack_api, runbook, SlackApp(SECRET, slack.url_for("/api")))
        stack.stop(process)


@pytest.fixture
def env(setup: Setup) -> Setup:
    """The README's worked example, configured on empty tables."""
    setup.stack.reset()
    setup.slack.reset()
    setup.runbook.reset()
    setup.slack_api.messages.clear()
    admin = Control(setup.stack.engine, setup.stack.settings, Caller(org="default"))
    admin.destinations.add(
        DestinationIn(
            name="ops-slack",
            type="slack",
            config={
                "bot_token": TOKEN,
                "channel": CHANNEL,
                "signing_secret": SECRET,
                "api_url": setup.slack.url_for("/api"),
            },
        )
    )
    admin.channels.add(ChannelIn(name="runbook-requests", pattern="runbook:.*"))
    admin.subscriptions.add(
        SubscriptionIn(name="to-slack", channels=["runbook-requests"], destinations=["ops-slack"])
    )
    admin.destinations.add(
        DestinationIn(name="runbook-svc", type="webhook", config={"url": setup.runbook.url_for()})
    )
    admin.channels.add(ChannelIn(name="approvals", pattern="approval:.*"))
    admin.subscriptions.add(
        SubscriptionIn(name="to-runbook", channels=["approvals"], destinations=["runbook-svc"])
    )
    setup.stack.wait_config_applied()
    return setup


def request_approval(env: Setup, timeout: str = "10m") -> tuple[str, dict[str, Any], str]:
    """Publish the README's request; the posted message and its ts once Slack has it."""
    event_id = publish(
        "runbook:step",
        {
            "runbook": "scale-payment-api",
            "step": 3,
            "message": "Step 3 of 5: scale payment-api from 3 to 5 replicas",
            "approval": {
                "prompt": "Scale payment-api to 5 replicas",
                "timeout": timeout,
                "approvers": [ALICE, BOB],
            },
            "links": [{"text": "View runbook", "url": "https://runbook.example/runs/812"}],
        },
        env="production",
        settings=env.stack.settings,
    )
    posted = wait_for(
        lambda: next((m for m in env.slack_api.messages.items() if "thread_ts" not in m[1]), None),
        20,
        "the request in Slack",
    )
    (channel, ts), message = posted
    assert channel == CHANNEL
    return event_id, message, ts


def post(env: Setup, path: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{env.api}/v1/slack/{path}", content=body, headers=headers, timeout=10)


def answers(env: Setup) -> list[dict[str, Any]]:
    return [r.json for r in env.runbook.requests() if r.json["name"].startswith("approval:")]


def test_a_click_reaches_the_runbook_service_and_updates_the_message(env: Setup) -> None:
    event_id, message, ts = request_approval(env)
    body = env.app.click_body(message, CHANNEL, ts, "eventrouter_approve", ALICE)
    headers = env.app.headers(body)
    clicked = post(env, "interactions", body, headers)
    assert clicked.status_code == 200 and clicked.elapsed.total_seconds() < 3

    [answer] = wait_for(lambda: answers(env) or None, 20, "approval:approved at the runbook")
    assert answer["name"] == "approval:approved" and answer["env"] == "production"
    payload = answer["payload"]
    assert payload["request_event_id"] == event_id
    assert payload["decided_by"] == {"id": ALICE, "name": ALICE.lower()}
    assert (payload["runbook"], payload["step"]) == ("scale-payment-api", 3)
    assert "approval" not in payload

    def updated() -> dict[str, Any] | None:
        latest = env.slack_api.messages[(CHANNEL, ts)]
        return latest if latest is not message else None

    latest = wait_for(updated, 20, "chat.update of the request")
    [actions] = [b for b in latest["blocks"] if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == ["eventrouter_link_0"]
    assert "*Approved* by <@U0ALICE>" in latest["blocks"][-1]["text"]["text"]
    [reply] = wait_for(lambda: env.slack_api.thread(CHANNEL, ts) or None, 20, "thread reply")
    assert "*Approved* by <@U0ALICE>" in reply["text"]

    # Slack retrying the same request, a second approver, a stranger: one decision stays.
    assert post(env, "interactions", body, headers).status_code == 200
    late = env.app.click_body(message, CHANNEL, ts, "eventrouter_reject", BOB)
    assert post(env, "interactions", late, env.app.headers(late)).status_code == 200
    stranger = env.app.click_body(message, CHANNEL, ts, "eventrouter_approve", MALLORY)
    assert post(env, "interactions", stranger, env.app.headers(stranger)).status_code == 200

    def ephemeral_notes() -> list[str] | None:
        notes = [r.json for r in env.slack.requests() if r.path.startswith("/respond/")]
        assert all(n["response_type"] == "ephemeral" for n in notes)
        return sorted(n["text"] for n in notes) if len(notes) >= 3 else None

    notes = wait_for(ephemeral_notes, 10, "ephemeral notes")
    assert [n.split(" at ")[0] for n in notes[:2]] == ["Already approved by <@U0ALICE>"] * 2
    assert notes[2] == "Only <@U0ALICE>, <@U0BOB> may decide on this request."
    results = [r.result for r in env.stack.rows("SELECT result FROM slack_clicks ORDER BY id")]
    assert results == ["decided", "late", "late", "refused"]
    assert len(answers(env)) == 1


def test_forged_and_stale_requests_are_refused_and_change_nothing(env: Setup) -> None:
    _, message, ts = request_approval(env)
    body = env.app.click_body(message, CHANNEL, ts, "eventrouter_approve", ALICE)
    stale = post(env, "interactions", body, env.app.headers(body, at=0))
    assert stale.status_code == 401 and "5 minutes" in stale.json()["detail"]
    forged = SlackApp("0" * 32, env.app.api_url)
    assert post(env, "interactions", body, forged.headers(body)).status_code == 401
    tampered = body.replace(b"U0ALICE", b"U0BOB")
    assert post(env, "interactions", tampered, env.app.headers(body)).status_code == 401
    assert env.stack.scalar("SELECT count(*) FROM slack_clicks") == 0
    assert env.stack.scalar("SELECT decision FROM approvals") is None


def test_an_unanswered_request_expires_once(env: Setup) -> None:
    event_id, _, ts = request_approval(env, timeout="10s")
    [answer] = wait_for(lambda: answers(env) or None, 30, "approval:expired at the runbook")
    assert answer["name"] == "approval:expired"
    assert answer["payload"]["request_event_id"] == event_id
    assert (answer["payload"]["decided_by"], answer["payload"]["on_timeout"]) == (None, "rejected")
    latest = wait_for(
        lambda: (lambda m: m if "Expired" in str(m.get("blocks")) else None)(
            env.slack_api.messages[(CHANNEL, ts)]
        ),
        20,
        "the request updated as expired",
    )
    assert not [b for b in latest["blocks"] if b["type"] == "actions" and len(b["elements"]) > 1]
    assert len(answers(env)) == 1


def test_slash_commands(env: Setup) -> None:
    event_id, _, _ = request_approval(env)
    status = env.app.command_body(f"status {event_id}")
    answered = post(env, "commands", status, env.app.headers(status))
    assert answered.status_code == 200
    assert answered.json()["response_type"] == "ephemeral"
    assert "ops-slack: succeeded" in answered.json()["text"]
    resolve = env.app.command_body(f'resolve {event_id} "scaled by hand"')
    assert "Resolved" in post(env, "commands", resolve, env.app.headers(resolve)).json()["text"]
    wait_for(
        lambda: (
            env.stack.scalar(
                "SELECT count(*) FROM events WHERE name = 'incident:resolved'"
                " AND payload->>'resolution' = 'scaled by hand'"
            )
            == 1
        ),
        10,
        "incident:resolved stored",
    )
