"""Alert rules end to end through the CLI and real router and worker processes: the
chachaml case (one alert when accuracy drops, one when it recovers, nothing between) and
``show`` explaining each non-delivery."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.e2e.destination_helpers import send
from tests.e2e.stack import Stack
from tests.receiver import Receiver, ok, wait_for


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(ok()) as rx:
        yield rx


def test_accuracy_fires_once_and_resolves_once(fresh: Stack, receiver: Receiver) -> None:
    fresh.cli("channels", "add", "runs", "--pattern", "run:.*")
    fresh.cli("destinations", "add", "ml-alerts", "--type", "webhook",
              "--url", receiver.url_for("/ml"))  # fmt: skip
    fresh.cli(
        "subscriptions", "add", "accuracy", "--channel", "runs", "--destination", "ml-alerts",
        "--filter", "payload.accuracy < 0.9", "--notify", "on-change",
        "--key", "payload.experiment", "--resolve",
    )  # fmt: skip
    fresh.wait_config_applied()
    ids = []
    for accuracy in (0.95, 0.85, 0.80, 0.70, 0.93):
        event_id = send(fresh, "run:finished", {"experiment": "iris", "accuracy": accuracy})
        wait_for(  # one at a time: on-change is about the order of the runs
            lambda e=event_id: fresh.scalar(
                "SELECT count(*) FROM decisions WHERE event_id = :e", e=e
            ),
            20,
            "the decision",
        )
        ids.append(event_id)
    requests = receiver.wait_for_count(2, timeout=30, path="/ml")
    bodies = [json.loads(r.body) for r in requests]
    assert [(b["id"], b["state"], b["key"]) for b in bodies] == [
        (ids[1], "firing", "iris"),
        (ids[4], "resolved", "iris"),
    ]
    shown = fresh.cli("show", ids[2]).stdout
    assert "decision accuracy: unchanged — still firing for 'iris'" in shown
    assert "decision accuracy: filtered — filter is false" in fresh.cli("show", ids[0]).stdout
    fresh.wait_settled(5)
    assert receiver.count("/ml") == 2
