"""``eventrouter api`` as a real process beside a real router and worker: what a user does
with curl (tokens from the CLI, publish, watch it succeed, retry, test), paging over many
events, and SIGTERM letting requests in flight finish."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from eventrouter.router.control import Caller, Control
from eventrouter.router.models.people import TokenIn, UserIn
from tests.e2e.stack import Process, Stack
from tests.receiver import Receiver, not_found, ok, slow, wait_for


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[tuple[Process, str]]:
    """One API process for the module; the last test stops it with SIGTERM."""
    process, url = stack.start_api()
    yield process, url
    stack.stop(process, timeout=20)
    assert "Traceback" not in process.output()


def client(stack: Stack, url: str, email: str, role: str) -> httpx.Client:
    """A client with a new user's token (made in-process: the CLI's own test covers it)."""
    control = Control(stack.engine, stack.settings, Caller(org="default"))
    control.users.add(UserIn(email=email, role=role))
    token = control.tokens.create(TokenIn(user=email)).token
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_publish_watch_retry_and_test_over_http(fresh: Stack, api: tuple[Process, str]) -> None:
    _, url = api
    # As the README goes: an admin and a token from the CLI, then HTTP alone.
    fresh.cli("users", "add", "admin@example.com", "--role", "admin")
    token = fresh.cli("tokens", "create", "--user", "admin@example.com").stdout.strip()
    admin = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    viewer = client(fresh, url, "viewer@example.com", "viewer")
    with Receiver(ok()) as good, Receiver(not_found()) as bad:
        assert admin.get("/healthz").json() == {"status": "ok"}
        assert admin.get("/readyz").status_code == 200
        admin.post("/v1/channels", json={"name": "pay", "pattern": "payment:.*"})
        for name, receiver in (("good", good), ("bad", bad)):
            body = {"name": name, "type": "webhook", "config": {"url": receiver.url_for("/h")}}
            assert admin.post("/v1/destinations", json=body).status_code == 201
        sub = {"name": "pay", "channels": ["pay"], "destinations": ["good", "bad"]}
        assert admin.post("/v1/subscriptions", json=sub).status_code == 201
        fresh.wait_config_applied(timeout=10)

        assert viewer.post("/v1/events", json={"name": "payment:failed"}).status_code == 403
        answer = admin.post("/v1/events", json={"name": "payment:failed", "payload": {"n": 1}})
        assert answer.status_code == 202
        event_id = answer.json()["id"]
        fresh.wait_settled(1)
        detail = viewer.get(f"/v1/events/{event_id}").json()
        by_destination = {d["destination"]: d for d in detail["deliveries"]}
        assert by_destination["good"]["status"] == "succeeded"
        assert by_destination["bad"]["status"] == "failed"
        assert by_destination["bad"]["attempts"][0]["http_status"] == 404

        failed = viewer.get("/v1/deliveries", params={"status": "failed"}).json()["items"]
        assert [d["destination"] for d in failed] == ["bad"]
        bad.set_behaviour(ok())
        assert admin.post("/v1/deliveries/retry", json={"status": "failed"}).json() == {
            "retried": 1
        }
        fresh.wait_settled(1)
        detail = viewer.get(f"/v1/events/{event_id}").json()
        assert {d["status"] for d in detail["deliveries"]} == {"succeeded"}
        test = admin.post("/v1/destinations/good/test").json()
        assert test["succeeded"] and test["http_status"] == 200

    # The router and the worker counted what they did where the API can see it.
    families = text_string_to_metric_families(admin.get("/metrics").text)
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value for f in families for s in f.samples
    }
    assert found[("eventrouter_events_total", (("result", "stored"),))] >= 1
    assert found[("eventrouter_attempts_total", (("kind", "webhook"), ("outcome", "failed")))] >= 1
    assert found[("eventrouter_deliveries_open", (("status", "pending"),))] == 0


def test_pages_over_250_events_have_no_gaps_or_repeats(
    fresh: Stack, api: tuple[Process, str]
) -> None:
    _, url = api
    admin = client(fresh, url, "admin@example.com", "admin")
    ids: list[str] = []
    for chunk in range(3):
        events = [{"name": "job:done", "payload": {"n": chunk * 100 + i}} for i in range(100)]
        answer = admin.post("/v1/events/batch", json={"events": events[: 250 - chunk * 100]})
        assert answer.status_code == 202, answer.text
        ids += answer.json()["ids"]
    assert len(ids) == 250
    fresh.wait_settled(250)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 100} | ({"cursor": cursor} if cursor else {})
        page = admin.get("/v1/events", params=params).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 250 and set(seen) == set(ids)


def test_sigterm_lets_a_request_in_flight_finish(fresh: Stack, api: tuple[Process, str]) -> None:
    """Last in the module: it stops the module's API process."""
    process, url = api
    admin = client(fresh, url, "admin@example.com", "admin")
    with Receiver(slow(2.0)) as receiver:
        body = {"name": "slow", "type": "webhook", "config": {"url": receiver.url_for("/h")}}
        assert admin.post("/v1/destinations", json=body).status_code == 201
        answers: list[httpx.Response] = []
        sender = threading.Thread(
            target=lambda: answers.append(admin.post("/v1/destinations/slow/test"))
        )
        sender.start()
        wait_for(lambda: receiver.count() == 1, timeout=10, message="the test request")
        began = time.monotonic()
        assert process.stop(timeout=20) == 0
        sender.join(10)
    assert answers and answers[0].status_code == 200 and answers[0].json()["succeeded"]
    assert 1.0 < time.monotonic() - began < 15
