"""Fault: a delivery that kills its worker on every attempt.

The receiver stands in for whatever takes a worker down in the middle of one request (an
OOM kill, a crash in a library, a host that reboots): each request it gets makes the test
``kill -9`` the worker that sent it. Each lost lease counts as an attempt: past the end
of the destination's retry schedule the delivery is ``failed`` ("worker lost N times")
and ``delivery:failed`` is emitted, instead of the delivery being re-sent forever.
"""

from __future__ import annotations

import time

from eventrouter import publish
from eventrouter.router.models.configuration import ChannelIn, DestinationIn, SubscriptionIn
from tests.chaos.harness import Proc, Stack, report, wait_for
from tests.receiver import Receiver, Request, Response


def test_a_delivery_that_kills_its_worker_every_time_fails_after_its_schedule(
    stack: Stack, receiver: Receiver
) -> None:
    admin = stack.admin
    admin.channels.add(ChannelIn(name="poison", pattern="poison:.*"))
    hook = {"url": receiver.url_for("/hook")}
    # Two attempts: the first, and one retry after 1 s.
    admin.destinations.add(
        DestinationIn(name="hook", type="webhook", config=hook, retry_schedule="1s")
    )
    admins = {"url": receiver.url_for("/admins")}
    admin.destinations.add(DestinationIn(name="admins", type="webhook", config=admins))
    admin.subscriptions.add(
        SubscriptionIn(name="poison-sub", channels=["poison"], destinations=["hook"])
    )
    admin.subscriptions.add(
        SubscriptionIn(name="ops", channels=["delivery:failed"], destinations=["admins"])
    )

    workers: list[Proc] = []

    def kill_the_sender(request: Request, seen: int) -> Response:
        if request.path == "/hook":
            workers[-1].kill9()
        return Response(200, b"ok")

    receiver.set_behaviour(kill_the_sender)
    stack.start_router()
    began = time.monotonic()
    publish("poison:pill", {"n": 1}, settings=stack.settings)
    for attempt in (1, 2):
        worker = stack.start_worker()
        workers.append(worker)
        wait_for(lambda n=attempt: receiver.count("/hook") >= n, 90, f"request {attempt}")
        wait_for(lambda w=worker: not w.alive(), 30, "the worker to be killed")
    # A live worker from now on: nothing more may reach /hook, and it delivers the
    # delivery:failed event to the admins.
    workers.append(stack.start_worker())

    def final_status() -> object:
        return stack.scalar(
            "SELECT d.status FROM deliveries d JOIN events e ON e.id = d.event_id "
            "WHERE e.name = 'poison:pill'"
        )

    try:
        wait_for(lambda: final_status() == "failed", 90, "the delivery to fail")
        wait_for(lambda: receiver.count("/admins") >= 1, 60, "delivery:failed to reach admins")
    except AssertionError:
        print(stack.status_counts())
        print(stack.logs())
        raise
    failed_after = time.monotonic() - began
    (admins,) = receiver.requests("/admins")
    assert admins.json["name"] == "delivery:failed"
    error = "worker lost 2 times (lease expired); gave up after 2 attempts"
    assert admins.json["payload"]["error"] == error
    assert stack.scalar("SELECT last_error FROM deliveries WHERE status = 'failed'") == error
    time.sleep(2)  # a scheduler tick or two: still nothing more sent to /hook
    assert receiver.count("/hook") == 2
    report("delivery killing its worker every time", failed_after=failed_after, requests=2)
