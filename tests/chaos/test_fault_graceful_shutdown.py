"""Fault 7: SIGTERM on the router and on the worker, in the middle of the work.

The worker's main process stops taking tasks and waits for the running ones (Celery's
warm shutdown; tasks are time-boxed, so the wait is short); when the whole process group
gets SIGTERM, as under systemd, each pool process finishes its request in flight and
hands the rest of its batch back. The router finishes its batch, acknowledges it and
leaves the consumer group. Either way nothing stays ``delivering`` and nothing waits for
a lease to expire.
"""

from __future__ import annotations

import time

import pytest
import redis

from tests.chaos.harness import (
    Proc,
    Stack,
    answer,
    assert_nothing_lost,
    publishing,
    report,
    wait_for,
)
from tests.receiver import Receiver, Response


def _stop_and_time(proc: Proc, *, group: bool) -> float:
    began = time.monotonic()
    proc.terminate(group=group)
    code = proc.wait(60)
    assert code == 0, f"{proc.name} exited with {code}:\n{proc.output()[-3000:]}"
    return time.monotonic() - began


@pytest.mark.parametrize("group", [False, True], ids=["main-process", "process-group"])
def test_sigterm_on_worker_and_router_leaves_nothing_in_flight(
    stack: Stack, receiver: Receiver, group: bool
) -> None:
    # 20 ms per answer: batches take long enough to be interrupted.
    receiver.set_behaviour(answer(Response(200, b"ok", delay_seconds=0.02)))
    stack.route("chaos", "chaos:.*", {"hook": receiver.url_for("/hook")})
    router = stack.start_router()
    worker = stack.start_worker()
    stack.wait_worker_ready(worker)
    client = redis.Redis.from_url(stack.redis_url)
    with publishing(stack.settings, rate=250) as publisher:
        wait_for(lambda: len(receiver.accepted_ids()) >= 300, 60, "steady deliveries")
        wait_for(lambda: stack.status_counts().get("delivering", 0) >= 5, 30, "a batch in flight")
        worker_stop = _stop_and_time(worker, group=group)
        in_flight_after_worker = stack.status_counts().get("delivering", 0)
        router_stop = _stop_and_time(router, group=group)
        pending_entries = client.xpending(stack.settings.stream, "routers")["pending"]
        consumers = client.xinfo_consumers(stack.settings.stream, "routers")
        # Back to work: a new router and worker pick up where the others left off.
        stack.start_router()
        stack.wait_worker_ready(stack.start_worker())
        time.sleep(3)
    verdict = assert_nothing_lost(stack, publisher, receiver)
    lost_leases = stack.scalar(
        "SELECT count(*) FROM delivery_attempts WHERE error LIKE 'worker lost%'"
    )
    handed_back = "handed back" in worker.output()
    report(
        f"SIGTERM ({'process group' if group else 'main process'})",
        published=verdict.published,
        worker_stop=worker_stop,
        router_stop=router_stop,
        handed_back=handed_back,
        left_delivering=in_flight_after_worker,
        leases_expired=lost_leases,
        duplicate_requests=verdict.duplicate_requests,
    )
    client.close()
    assert in_flight_after_worker == 0
    assert pending_entries == 0, "the router left unacknowledged entries"
    assert consumers == [], "the router did not leave the consumer group"
    assert lost_leases == 0
    assert verdict.duplicate_requests == 0
    if group:
        # Pool processes got SIGTERM mid-batch: they stopped early and handed work back.
        assert handed_back
