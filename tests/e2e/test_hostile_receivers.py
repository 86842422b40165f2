"""Hostile receivers against a real router and a real one-process worker.

One worker process on purpose: a receiver that could hold it would stop every other
destination, which is what this module checks never happens.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from eventrouter import publish
from eventrouter.router.models.configuration import ChannelIn, DestinationIn, SubscriptionIn
from tests.e2e.destination_helpers import attempts, wait_final
from tests.e2e.stack import Stack
from tests.helpers import control_for
from tests.hostile import HostileServer, status, trickle
from tests.receiver import Receiver, ok, wait_for

TIMEOUT = 1.0


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack.create(tmp_path_factory.mktemp("hostile"))
    try:
        running.start_router()
        running.start_worker(concurrency=1)
        yield running
    finally:
        running.destroy()


def route_to(stack: Stack, destinations: dict[str, str]) -> None:
    """Every ``disk:*`` event to each named webhook (timeout 1 s, two attempts)."""
    stack.reset()
    admin = control_for(stack.engine, stack.settings)
    admin.channels.add(ChannelIn(name="disks", pattern="disk:.*"))  # not delivery:failed
    for name, url in destinations.items():
        config = {"url": url, "timeout": TIMEOUT}
        admin.destinations.add(
            DestinationIn(name=name, type="webhook", config=config, retry_schedule="1s")
        )
    admin.subscriptions.add(
        SubscriptionIn(name="disks", channels=["disks"], destinations=list(destinations))
    )
    stack.wait_config_applied()


def test_a_trickling_receiver_holds_a_request_for_its_timeout_only(single: Stack) -> None:
    with (
        HostileServer(trickle(interval=0.3)) as hostile,
        Receiver(ok()) as good,
    ):
        route_to(single, {"trickler": hostile.url(), "good": good.url_for("/good")})
        first = publish("disk:full", {"n": 0}, settings=single.settings)
        wait_for(lambda: hostile.connections >= 1, 20, "the worker to reach the trickler")
        # While the trickler holds the only worker process, more events arrive for both.
        later = []
        for n in range(1, 6):
            later.append(publish("disk:full", {"n": n}, settings=single.settings))
            time.sleep(0.2)
        wait_for(
            lambda: {r.json["id"] for r in good.requests()} >= {first, *later},
            30,
            "the good destination to get every event",
        )
        trickler_failed = (
            "SELECT count(*) FROM deliveries d JOIN destinations t ON t.id = d.destination_id "
            "WHERE t.name = 'trickler' AND d.status = 'failed'"
        )
        wait_for(lambda: single.scalar(trickler_failed) == 6, 90, "the trickler's deliveries")
    tried = single.rows(
        "SELECT a.outcome, a.error, a.duration_ms FROM delivery_attempts a "
        "JOIN deliveries d ON d.id = a.delivery_id JOIN destinations t ON t.id = d.destination_id "
        "WHERE t.name = 'trickler'"
    )
    assert len(tried) == 12  # 6 events x 2 attempts, each a recorded timeout
    assert {(a.outcome, a.error) for a in tried} == {("retry", f"timed out after {TIMEOUT:g}s")}
    assert max(a.duration_ms for a in tried) < TIMEOUT * 1000 + 500
    failed = single.rows(
        "SELECT d.last_error FROM deliveries d JOIN destinations t ON t.id = d.destination_id "
        "WHERE t.name = 'trickler'"
    )
    assert {r.last_error for r in failed} == {"gave up after 2 attempts: timed out after 1s"}
    assert single.scalar("SELECT count(*) FROM deliveries WHERE status = 'delivering'") == 0


def test_an_absurd_status_is_recorded_and_the_delivery_ends(single: Stack) -> None:
    with HostileServer(status(b"4294967296")) as hostile:
        route_to(single, {"absurd": hostile.url()})
        event_id = publish("disk:full", {"n": 1}, settings=single.settings)
        row = wait_final(single, event_id, timeout=30)
    assert row.status == "failed" and row.attempt_count == 2
    tried = attempts(single, event_id)
    assert [(a.outcome, a.http_status) for a in tried] == [("retry", None)] * 2
    assert "status code '4294967296' is not one from 100 to 599" in tried[0].error
