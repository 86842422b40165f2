"""Fault 1: ``kill -9`` a worker in the middle of a batch.

The deliveries it held stay ``delivering`` until their lease expires; the scheduler then
returns them to ``pending`` and another worker sends them. Nothing is lost; the requests
that were in flight when the worker died may reach the receiver twice.
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


def test_worker_killed_mid_batch_recovers_through_the_lease(
    stack: Stack, receiver: Receiver
) -> None:
    stack.route("chaos", "chaos:.*", {"hook": receiver.url_for("/hook")})
    stack.start_router()
    worker = stack.start_worker()
    stack.wait_worker_ready(worker)
    with publishing(stack.settings, rate=250) as publisher:
        wait_for(lambda: len(receiver.accepted_ids()) >= 300, 60, "steady deliveries")
        # Hold every new request so the worker is provably in the middle of a batch.
        hold = Hold()
        receiver.set_behaviour(hold)
        wait_for(
            lambda: hold.held >= 1 and stack.status_counts().get("delivering", 0) >= 1,
            30,
            "a held request and deliveries in 'delivering'",
        )
        held = [r[0] for r in stack.rows("SELECT id FROM deliveries WHERE status = 'delivering'")]
        in_flight = len(held)
        last_before = stack.scalar("SELECT max(id) FROM deliveries")
        killed_at = time.monotonic()
        worker.kill9()
        receiver.set_behaviour(answer(OK))
        hold.release()
        replacement = stack.start_worker()
        stack.wait_worker_ready(replacement)
        wait_for(
            lambda: (
                stack.scalar(
                    "SELECT count(*) FROM deliveries WHERE id = ANY(:ids) AND status = 'succeeded'",
                    ids=held,
                )
                == in_flight
            ),
            120,
            "the killed worker's deliveries to succeed",
        )
        held_recovery = time.monotonic() - killed_at
        wait_for(
            lambda: (
                stack.scalar(
                    "SELECT count(*) FROM deliveries WHERE id <= :last AND status <> 'succeeded'",
                    last=last_before,
                )
                == 0
            ),
            120,
            "every delivery planned before the kill to succeed",
        )
        recovery = time.monotonic() - killed_at
        time.sleep(2)  # the stream keeps flowing after recovery
    verdict = assert_nothing_lost(stack, publisher, receiver)
    report(
        "worker kill -9 mid-batch",
        published=verdict.published,
        in_flight=in_flight,
        held_recovered=held_recovery,
        backlog_recovered=recovery,
        duplicate_requests=verdict.duplicate_requests,
        duplicate_accepts=verdict.duplicate_accepts,
    )
    # Only the requests in flight at the kill can be repeated.
    assert verdict.duplicate_requests <= in_flight
    assert verdict.duplicate_accepts <= in_flight
    lost_attempts = stack.scalar(
        "SELECT count(*) FROM delivery_attempts WHERE error LIKE 'worker lost%'"
    )
    assert lost_attempts == in_flight
