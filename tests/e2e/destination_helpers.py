"""Shared steps of the destination e2e modules: route every event to one destination,
publish, and read back the delivery and its attempts (the router and worker are real)."""

from __future__ import annotations

from typing import Any

from eventrouter import publish
from eventrouter.router.control import Caller, Control
from eventrouter.router.models.configuration import (
    ChannelIn,
    Destination,
    DestinationIn,
    SubscriptionIn,
)
from tests.e2e.stack import Stack
from tests.receiver import wait_for

FINAL = ("succeeded", "failed", "cancelled")


def route(
    stack: Stack,
    kind: str,
    config: dict[str, Any],
    *,
    retry_schedule: str = "1s",
    pattern: str = ".*",
) -> Destination:
    """Channel ``all`` (events matching ``pattern``: every one by default) → destination
    ``dest`` of ``kind`` through subscription ``all-to-dest``; wait until live.

    In-process through the control plane, as the CLI would: starting a CLI process costs
    seconds on a loaded machine, and the CLI has tests of its own."""
    admin = Control(stack.engine, stack.settings, Caller(org=stack.settings.org))
    admin.channels.add(ChannelIn(name="all", pattern=pattern))
    destination = admin.destinations.add(
        DestinationIn(name="dest", type=kind, config=config, retry_schedule=retry_schedule)
    )
    admin.subscriptions.add(
        SubscriptionIn(name="all-to-dest", channels=["all"], destinations=["dest"])
    )
    stack.wait_config_applied()
    return destination


def send(
    stack: Stack,
    name: str = "disk:full",
    payload: dict[str, Any] | None = None,
    env: str | None = "prod",
) -> str:
    return publish(
        name,
        payload or {"message": "db-1 at 97%", "host": "db-1"},
        env=env,
        settings=stack.settings,
    )


def delivery(stack: Stack, event_id: str) -> Any:
    found = stack.rows("SELECT * FROM deliveries WHERE event_id = :id", id=event_id)
    return found[0] if found else None


def wait_final(stack: Stack, event_id: str, timeout: float = 20) -> Any:
    """The delivery of ``event_id`` once it succeeded, failed or was cancelled."""

    def final() -> Any:
        row = delivery(stack, event_id)
        return row if row is not None and row.status in FINAL else None

    try:
        return wait_for(final, timeout, f"the delivery of {event_id} to finish")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{stack.logs()}") from None


def attempts(stack: Stack, event_id: str) -> list[Any]:
    return stack.rows(
        "SELECT a.* FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id "
        "WHERE d.event_id = :id ORDER BY a.attempt_number, a.id",
        id=event_id,
    )
