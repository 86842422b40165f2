"""Alert rules under ``kill -9``: a router killed during a group's wait, and one killed
while a quiet-hours hold is being released, lose nothing and send nothing twice.

Group and hold state lives in Postgres (``digests``, ``rule_state``, ``decisions``),
written in the router's batch transaction; the release is one transaction of whichever
router's scheduler takes the digest (``SKIP LOCKED``), and a digest's deliveries are
unique per destination. So a fresh router finds the open digest and releases it once.
"""

from __future__ import annotations

import json
import time

from eventrouter import publish_many
from eventrouter.router.models.configuration import ChannelIn, DestinationIn, SubscriptionIn
from eventrouter.router.models.rules import Rules
from tests.chaos.harness import Stack, report, wait_for
from tests.receiver import Receiver


def _subscribe(stack: Stack, name: str, url: str, rules: Rules) -> None:
    admin = stack.admin
    admin.channels.add(ChannelIn(name=name, pattern=f"{name}:.*"))
    admin.destinations.add(DestinationIn(name=name, type="webhook", config={"url": url}))
    admin.subscriptions.add(
        SubscriptionIn(name=name, channels=[name], destinations=[name], rules=rules)
    )


def _decided(stack: Stack, decision: str) -> int:
    return int(stack.scalar("SELECT count(*) FROM decisions WHERE decision = :d", d=decision))  # type: ignore[arg-type]


def test_router_killed_during_a_group_wait_and_a_hold_release(
    stack: Stack, receiver: Receiver
) -> None:
    _subscribe(
        stack,
        "storm",
        receiver.url_for("/storm"),
        Rules(group_by="payload.service", group_wait="8s"),
    )
    _subscribe(
        stack,
        "quiet",
        receiver.url_for("/quiet"),
        Rules(quiet_hours="00:00-24:00", timezone="UTC"),  # always quiet; the test ends it
    )
    worker = stack.start_worker()
    stack.wait_worker_ready(worker)
    router = stack.start_router()

    # 1. A storm of 300 events for one key; the router dies inside the 8 s wait.
    storm = [("storm:payment_failed", {"service": "checkout", "n": i}) for i in range(300)]
    publish_many(storm, settings=stack.settings)
    wait_for(lambda: _decided(stack, "grouped") == 300, 60, "the storm to be grouped")
    assert receiver.count("/storm") == 0
    router.kill9()
    started = time.monotonic()
    router = stack.start_router()
    receiver.wait_for_count(1, path="/storm", timeout=60)
    group_recovery = time.monotonic() - started

    # 2. Held events; the router dies as the window ends and the release is due.
    quiet = [("quiet:anomaly", {"n": i}) for i in range(50)]
    publish_many(quiet, settings=stack.settings)
    wait_for(lambda: _decided(stack, "held") == 50, 60, "the events to be held")
    with stack.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE digests SET release_at = now() WHERE kind = 'hold'")
    time.sleep(0.3)  # the scheduler ticks every 0.5 s: the kill lands around the release
    router.kill9()
    router = stack.start_router()
    receiver.wait_for_count(1, path="/quiet", timeout=60)
    time.sleep(3)  # time for a second send, if there were one

    storm_bodies = [json.loads(r.body) for r in receiver.requests("/storm")]
    quiet_bodies = [json.loads(r.body) for r in receiver.requests("/quiet")]
    report(
        "router kill -9 with alert rules",
        storm_events=300,
        storm_requests=len(storm_bodies),
        group_recovery=group_recovery,
        held_events=50,
        hold_requests=len(quiet_bodies),
    )
    assert [b["group"]["count"] for b in storm_bodies] == [300]
    assert [b["held"]["count"] for b in quiet_bodies] == [50]
    assert stack.scalar("SELECT count(*) FROM digests WHERE released_at IS NULL") == 0
    assert stack.scalar("SELECT count(*) FROM events") == 350
    assert stack.scalar("SELECT count(*) FROM decisions") == 350
