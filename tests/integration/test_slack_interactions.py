"""The Slack interaction service on real Postgres: a click becomes one decision, one event
in the outbox and one message update, whatever the double clicks, concurrent clicks on
several processes, non-approvers, replays or timeouts racing it."""

from __future__ import annotations

import json
import threading
import time
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import Engine

from eventrouter.router.control.approvals import Approvals
from eventrouter.router.control.slack import SlackRequests
from eventrouter.router.db import make_engine
from eventrouter.router.destinations.context import make_send_context
from eventrouter.router.destinations.slack_requests import BadRequest, signature
from eventrouter.router.events import Event, new_event_id
from eventrouter.router.settings import Settings
from eventrouter.router.store import EventStore
from tests.helpers import Seed, rows, scalar
from tests.providers import SlackApi
from tests.receiver import Receiver

SECRET = "8f742231b10e8888abcd99edabcd00d1"
OTHER_SECRET = "0f742231b10e8888abcd99edabcd00d2"
TOKEN = "xoxb-1111-2222-abcdefghijkl"
APPROVAL = {
    "prompt": "Scale payment-api to 5 replicas",
    "timeout": "10m",
    "approvers": ["U1AB", "U2CD"],
}


def slack_destination(seed: Seed, *, org: str = "default", secret: str = SECRET) -> int:
    config = {
        "bot_token": TOKEN,
        "channel": "C1",
        "signing_secret": secret,
        "api_url": "http://127.0.0.1:9/api",
    }
    return seed.destination(kind="slack", org=org, config=config)


def request_event(
    engine: Engine,
    seed: Seed,
    destination_id: int,
    payload: dict[str, Any],
    *,
    org: str = "default",
) -> str:
    """Store an event through the router's store (which records the approval request), and
    a posted message for it, as a worker would."""
    event = Event(id=new_event_id(), name="deploy:scale", org=org, env="prod", payload=payload)
    with engine.begin() as conn:
        EventStore(engine).persist(conn, [event], [])
    delivery_id = seed.delivery(event.id, destination_id, status="succeeded", attempt_count=1)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms,"
            " outcome, receipt) VALUES (%s, 1, now(), 5, 'succeeded', 'C1 1.000100')",
            (delivery_id,),
        )
    return event.id


def click_body(event_id: str, action: str = "approve", user: str = "U1AB") -> bytes:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower(), "team_id": "T1"},
        "team": {"id": "T1"},
        "container": {"type": "message", "message_ts": "1.000100", "channel_id": "C1"},
        "response_url": "http://127.0.0.1:9/respond",
        "actions": [{"action_id": f"eventrouter_{action}", "value": event_id, "type": "button"}],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def signed(body: bytes, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    ts = str(int(time.time() if at is None else at))
    return {"x-slack-request-timestamp": ts, "x-slack-signature": signature(secret, ts, body)}


def clicked(service: SlackRequests, body: bytes, secret: str = SECRET) -> list[str]:
    verified = service.verify(signed(body, secret), body)
    return [n.text for n in service.handle_interaction(verified, body)]


def outbox(engine: Engine) -> list[Any]:
    return rows(engine, "SELECT name, org, env, payload FROM system_events ORDER BY id")


@pytest.fixture
def service(seed: Seed, settings: Settings) -> SlackRequests:
    return SlackRequests(seed.engine, settings)


def test_a_click_decides_once_and_queues_the_event_and_the_update(
    seed: Seed, service: SlackRequests
) -> None:
    dest = slack_destination(seed)
    event_id = request_event(
        seed.engine, seed, dest, {"service": "payment-api", "approval": APPROVAL}
    )
    assert clicked(service, click_body(event_id)) == []
    assert clicked(service, click_body(event_id, "reject", "U2CD")) == [
        f"Already approved by <@U1AB> at {time.strftime('%H:%M', time.gmtime())} UTC."
    ]
    [event] = outbox(seed.engine)
    assert (event.name, event.org, event.env) == ("approval:approved", "default", "prod")
    assert event.payload["request_event_id"] == event_id
    assert event.payload["decided_by"] == {"id": "U1AB", "name": "u1ab"}
    assert event.payload["service"] == "payment-api" and "approval" not in event.payload
    [approval] = rows(seed.engine, "SELECT * FROM approvals")
    assert (approval.decision, approval.decided_by_id, approval.message_ts) == (
        "approved",
        "U1AB",
        "1.000100",
    )
    [update] = rows(seed.engine, "SELECT receipt, reply FROM slack_message_updates")
    assert update.receipt == "C1 1.000100" and "*Approved* by <@U1AB>" in update.reply
    results = [r.result for r in rows(seed.engine, "SELECT result FROM slack_clicks ORDER BY id")]
    assert results == ["decided", "late"]


def test_concurrent_clicks_on_several_processes_make_one_decision(
    seed: Seed, settings: Settings
) -> None:
    dest = slack_destination(seed)
    event_id = request_event(seed.engine, seed, dest, {"approval": APPROVAL})
    engines = [make_engine(settings.database_url) for _ in range(6)]
    barrier = threading.Barrier(len(engines))
    notes: list[list[str]] = []

    def click(engine: Engine, n: int) -> None:
        body = click_body(event_id, "approve" if n % 2 else "reject", ["U1AB", "U2CD"][n % 2])
        service = SlackRequests(engine, settings)
        verified = service.verify(signed(body), body)
        barrier.wait()
        notes.append([x.text for x in service.handle_interaction(verified, body)])

    threads = [threading.Thread(target=click, args=(e, n)) for n, e in enumerate(engines)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    for engine in engines:
        engine.dispose()
    assert sorted(len(n) for n in notes) == [0, 1, 1, 1, 1, 1]
    assert len([e for e in outbox(seed.engine) if e.name.startswith("approval:")]) == 1
    assert scalar(seed.engine, "SELECT count(*) FROM slack_clicks WHERE result = 'decided'") == 1


def test_a_non_approver_is_refused_and_recorded(seed: Seed, service: SlackRequests) -> None:
    dest = slack_destination(seed)
    event_id = request_event(seed.engine, seed, dest, {"approval": APPROVAL})
    with seed.engine.begin() as conn:  # disabled since it posted: its clicks still count
        conn.exec_driver_sql("UPDATE destinations SET enabled = false")
    assert clicked(service, click_body(event_id, user="U9ZZ")) == [
        "Only <@U1AB>, <@U2CD> may decide on this request."
    ]
    assert [e.name for e in outbox(seed.engine)] == ["destination:disabled"]
    assert scalar(seed.engine, "SELECT decision FROM approvals") is None
    [click] = rows(seed.engine, "SELECT user_id, result, action FROM slack_clicks")
    assert tuple(click) == ("U9ZZ", "refused", "approve")


def test_bad_signatures_and_stale_timestamps_record_nothing(
    seed: Seed, service: SlackRequests
) -> None:
    dest = slack_destination(seed)
    event_id = request_event(seed.engine, seed, dest, {"approval": APPROVAL})
    body = click_body(event_id)
    with pytest.raises(BadRequest, match="does not match"):
        service.verify(signed(body, OTHER_SECRET), body)
    with pytest.raises(BadRequest, match="5 minutes"):
        service.verify(signed(body, at=time.time() - 400), body)
    assert scalar(seed.engine, "SELECT count(*) FROM slack_clicks") == 0


def test_one_orgs_app_cannot_click_another_orgs_event(seed: Seed, service: SlackRequests) -> None:
    theirs = slack_destination(seed, org="other", secret=OTHER_SECRET)
    slack_destination(seed)
    event_id = request_event(seed.engine, seed, theirs, {"approval": APPROVAL}, org="other")
    assert clicked(service, click_body(event_id)) == [
        "This button does not belong to an event eventrouter sent here."
    ]
    assert scalar(seed.engine, "SELECT decision FROM approvals") is None


def test_timeouts_expire_once_across_routers(seed: Seed, settings: Settings) -> None:
    dest = slack_destination(seed)
    event_id = request_event(
        seed.engine, seed, dest, {"approval": {**APPROVAL, "on_timeout": "approve"}}
    )
    with seed.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE approvals SET expires_at = now() - interval '1 second'")
    routers = [Approvals(seed.engine, settings) for _ in range(3)]
    threads = [threading.Thread(target=r.expire_due) for r in routers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sum(r.expire_due() for r in routers) == 0
    [event] = outbox(seed.engine)
    assert event.name == "approval:expired"
    assert (event.payload["decision"], event.payload["on_timeout"]) == ("expired", "approved")
    assert event.payload["decided_by"] is None
    [update] = rows(seed.engine, "SELECT reply FROM slack_message_updates")
    assert "*Expired*" in update.reply and "treated as approved" in update.reply
    service = SlackRequests(seed.engine, settings)
    assert clicked(service, click_body(event_id))[0].startswith("This request already expired")


def test_acknowledge_once_by_button_or_command(seed: Seed, service: SlackRequests) -> None:
    dest = slack_destination(seed)
    event_id = request_event(seed.engine, seed, dest, {"message": "disk full", "ack": True})
    assert clicked(service, click_body(event_id, "ack")) == []
    assert clicked(service, click_body(event_id, "ack", "U2CD"))[0].startswith(
        "Already acknowledged by <@U1AB>"
    )
    body = command_body(f"ack {event_id}")
    answer = service.handle_command(service.verify(signed(body), body), body)
    assert answer.startswith("Already acknowledged by <@U1AB>")
    [event] = outbox(seed.engine)
    assert event.name == "alert:acknowledged"
    assert event.payload["acknowledged_by"] == {"id": "U1AB", "name": "u1ab"}
    assert event.payload["message"] == "disk full" and "ack" not in event.payload


def command_body(text: str, user: str = "U1AB") -> bytes:
    return urlencode(
        {
            "command": "/eventrouter",
            "text": text,
            "user_id": user,
            "user_name": "alice",
            "channel_id": "C1",
            "team_id": "T1",
            "response_url": "http://127.0.0.1:9/c",
        }
    ).encode()


def test_slash_commands_resolve_once_and_report_status(seed: Seed, service: SlackRequests) -> None:
    dest = slack_destination(seed)
    event_id = request_event(seed.engine, seed, dest, {"message": "disk full"})

    def run(text: str) -> str:
        body = command_body(text)
        return service.handle_command(service.verify(signed(body), body), body)

    assert run(f'resolve {event_id} "disk replaced"').startswith("Resolved `deploy:scale`")
    assert run(f'resolve {event_id} "again"').startswith("Already resolved by <@U1AB>")
    [event] = outbox(seed.engine)
    assert event.name == "incident:resolved"
    assert event.payload["resolution"] == "disk replaced"
    status = run(f"status {event_id}")
    assert "*deploy:scale*" in status and "succeeded, 1 attempt(s)" in status
    assert run("status not-an-id").startswith("`not-an-id` is not an event id")
    assert run(f"status {new_event_id()}").startswith("No event")
    assert run("dance").startswith("Usage:")


def test_message_updates_survive_slack_errors_and_lost_routers(
    seed: Seed, settings: Settings
) -> None:
    """An update Slack refuses for now is tried again; one a killed router had leased is
    due again after the lease; a thread reply is posted once."""
    slack_api = SlackApi(TOKEN, ["fatal_error"])
    with Receiver(slack_api) as slack:
        config = {
            "bot_token": TOKEN,
            "channel": "C1",
            "signing_secret": SECRET,
            "api_url": slack.url_for("/api"),
        }
        dest = seed.destination(kind="slack", config=config)
        event_id = request_event(seed.engine, seed, dest, {"approval": APPROVAL})
        slack_api.messages[("C1", "1.000100")] = {"text": "the request"}
        service = SlackRequests(seed.engine, settings)
        assert clicked(service, click_body(event_id)) == []
        approvals = Approvals(seed.engine, settings)
        ctx = make_send_context(settings)
        assert approvals.sync_messages(ctx) == 0  # Slack: fatal_error, retried later
        [row] = rows(seed.engine, "SELECT attempts, last_error, replied FROM slack_message_updates")
        assert row.attempts == 1 and "fatal_error" in row.last_error and not row.replied
        with seed.engine.begin() as conn:  # as if the backoff passed
            conn.exec_driver_sql("UPDATE slack_message_updates SET due_at = now()")
        assert approvals.sync_messages(ctx) == 1
        assert scalar(seed.engine, "SELECT count(*) FROM slack_message_updates") == 0
        updated = slack_api.messages[("C1", "1.000100")]
        assert "*Approved* by <@U1AB>" in updated["blocks"][-1]["text"]["text"]
        assert len(slack_api.thread("C1", "1.000100")) == 1
        paths = [r.path for r in slack.requests()]
        assert paths == ["/api/chat.postMessage", "/api/chat.postMessage", "/api/chat.update"]


def test_a_message_posted_after_the_decision_is_updated_too(seed: Seed, settings: Settings) -> None:
    dest = slack_destination(seed)
    event = Event(
        id=new_event_id(),
        name="deploy:scale",
        org="default",
        env=None,
        payload={"approval": APPROVAL},
    )
    with seed.engine.begin() as conn:
        EventStore(seed.engine).persist(conn, [event], [])
        conn.exec_driver_sql("UPDATE approvals SET expires_at = now() - interval '1 second'")
    assert Approvals(seed.engine, settings).expire_due() == 1
    assert scalar(seed.engine, "SELECT count(*) FROM slack_message_updates") == 0
    delivery_id = seed.delivery(event.id, dest, status="succeeded", attempt_count=1)
    with seed.engine.begin() as conn:  # Slack is back: the worker records the post
        conn.exec_driver_sql(
            "INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms,"
            " outcome, receipt) VALUES (%s, 1, now(), 5, 'succeeded', 'C1 2.000200')",
            (delivery_id,),
        )
    [update] = rows(seed.engine, "SELECT receipt, reply FROM slack_message_updates")
    assert (update.receipt, update.reply) == ("C1 2.000200", "")
