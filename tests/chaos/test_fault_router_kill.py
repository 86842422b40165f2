"""Fault 2: ``kill -9`` the router between its commit and its ack, and while it holds a
batch it has read but not committed.

In both cases the entries stay pending in the consumer group; a live router claims them
after ``claim_idle_seconds`` and replays them. A replay of committed events stores
nothing twice (the event id is the primary key), and deliveries committed but never
dispatched are found by the scheduler after ``dispatch_grace_seconds``.
"""

from __future__ import annotations

import time

from tests.chaos.harness import Proc, Stack, assert_nothing_lost, publishing, report, wait_for
from tests.receiver import Receiver


def _stored_through(stack: Stack, keys: list[str]) -> bool:
    """Every event published so far is stored and delivered."""
    row = stack.rows(
        """
        SELECT count(DISTINCT e.id), count(d.id) FILTER (WHERE d.status = 'succeeded')
        FROM events e LEFT JOIN deliveries d ON d.event_id = e.id
        WHERE e.idempotency_key = ANY(:keys) AND e.duplicate_of IS NULL
        """,
        keys=keys,
    )[0]
    return row[0] == row[1] == len(keys)


def _recover_after(stack: Stack, dying: Proc, publisher_keys: list[str]) -> tuple[float, Proc]:
    """Wait for ``dying`` to kill itself, start a fresh router, time the recovery."""
    dying.wait(120)
    killed_at = time.monotonic()
    keys_before = list(publisher_keys)
    assert "failpoint" in dying.output()
    fresh = stack.start_router()
    wait_for(lambda: _stored_through(stack, keys_before), 120, "events before the kill")
    recovery = time.monotonic() - killed_at
    # The dead router's pending entries were claimed and replayed by the fresh one.
    wait_for(lambda: "took over" in fresh.output(), 30, "the fresh router to claim entries")
    return recovery, fresh


def test_router_killed_after_commit_and_while_holding_a_batch(
    stack: Stack, receiver: Receiver
) -> None:
    stack.route("chaos", "chaos:.*", {"hook": receiver.url_for("/hook")})
    worker = stack.start_worker()
    stack.wait_worker_ready(worker)
    with publishing(stack.settings, rate=250) as publisher:
        # 1. Dies on its 20th batch after COMMIT, before XACK.
        dying = stack.start_router(failpoint="router-before-ack:20")
        after_commit, fresh = _recover_after(stack, dying, publisher.keys)
        fresh.stop()
        # 2. Dies on its 20th batch inside the transaction: the batch is read, not stored.
        dying = stack.start_router(failpoint="router-before-commit:20")
        holding, _ = _recover_after(stack, dying, publisher.keys)
        time.sleep(2)
    verdict = assert_nothing_lost(stack, publisher, receiver)
    report(
        "router kill -9",
        published=verdict.published,
        after_commit_recovery=after_commit,
        holding_batch_recovery=holding,
        duplicate_requests=verdict.duplicate_requests,
        duplicate_accepts=verdict.duplicate_accepts,
    )
    # Deliveries of the replayed batch were never sent before the kill: no duplicates.
    assert verdict.duplicate_requests == 0
