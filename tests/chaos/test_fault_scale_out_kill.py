"""Fault 3: two routers and two workers share the load; ``kill -9`` one of each.

The survivors carry on: the live router claims the dead one's pending stream entries
after ``claim_idle_seconds``, and the scheduler returns the dead worker's leased
deliveries to ``pending`` after their lease, for the live worker to send.
"""

from __future__ import annotations

import time

from tests.chaos.harness import (
    OK,
    Hold,
    Stack,
    answer,
    assert_nothing_lost,
    publishing,
    report,
    wait_for,
)
from tests.receiver import Receiver


def test_kill_one_router_and_one_worker_of_two(stack: Stack, receiver: Receiver) -> None:
    stack.route("chaos", "chaos:.*", {"hook": receiver.url_for("/hook")})
    routers = [stack.start_router(), stack.start_router()]
    workers = [stack.start_worker(), stack.start_worker()]
    for worker in workers:
        stack.wait_worker_ready(worker)
    with publishing(stack.settings, rate=200, batch=20) as publisher:
        wait_for(lambda: len(receiver.accepted_ids()) >= 1000, 60, "steady deliveries")
        # Both routers and both workers are doing work.
        wait_for(
            lambda: all("destination hook (id 1):" in w.output() for w in workers),
            30,
            "both workers busy",
        )
        # Park requests until 3 of the 4 pool processes hold one: then each worker is
        # provably in the middle of a batch when one of them is killed.
        hold = Hold()
        receiver.set_behaviour(hold)
        wait_for(lambda: hold.held >= 3, 30, "both workers in the middle of a batch")
        last_before = stack.scalar("SELECT max(id) FROM deliveries")
        keys_before = list(publisher.keys)
        killed_at = time.monotonic()
        routers[0].kill9()
        workers[0].kill9()
        receiver.set_behaviour(answer(OK))
        hold.release()
        stack.wait_delivered(keys_before, "every event published before the kill to be delivered")
        recovery = time.monotonic() - killed_at
        wait_for(
            lambda: (
                stack.scalar(
                    "SELECT count(*) FROM deliveries WHERE id <= :last AND status <> 'succeeded'",
                    last=last_before,
                )
                == 0
            ),
            60,
            "every delivery planned before the kill",
        )
        time.sleep(3)  # the survivors keep the stream flowing
    verdict = assert_nothing_lost(stack, publisher, receiver)
    lost_leases = stack.scalar(
        "SELECT count(*) FROM delivery_attempts WHERE error LIKE 'worker lost%'"
    )
    report(
        "1 of 2 routers and 1 of 2 workers kill -9",
        published=verdict.published,
        recovery=recovery,
        leases_expired=lost_leases,
        duplicate_requests=verdict.duplicate_requests,
        duplicate_accepts=verdict.duplicate_accepts,
    )
    assert routers[1].alive() and workers[1].alive()
    assert lost_leases >= 1  # type: ignore[operator]
    # Only deliveries the dead worker had claimed can have been sent twice.
    assert verdict.duplicate_requests <= lost_leases  # type: ignore[operator]
