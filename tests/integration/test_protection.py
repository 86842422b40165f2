"""Protection on real Postgres: system events (and their loop guard), auto-disable after
a window of failures, and the SSRF guard when a destination is created."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine, text

from eventrouter.router.control import Control
from eventrouter.router.errors import ConfigError
from eventrouter.router.models.configuration import DestinationIn, SubscriptionIn
from eventrouter.router.scheduler import Scheduler
from eventrouter.router.service import RouterService
from eventrouter.router.settings import Settings
from tests.helpers import RecordingDispatcher, Seed, control_for, rows, scalar


@pytest.fixture
def service(settings: Settings, clean_db: Engine, dispatcher: RecordingDispatcher) -> RouterService:
    svc = RouterService(settings, engine=clean_db, dispatcher=dispatcher, consumer="t")
    svc.reader.ensure_group()
    svc.store.refresh_routing_table()
    return svc


@pytest.fixture
def admin(settings: Settings, clean_db: Engine) -> Control:
    return control_for(clean_db, settings)


def fail(engine: Engine, delivery_id: int, error: str = "HTTP 404 Not Found") -> None:
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE deliveries SET status = 'failed', attempt_count = 1, last_error = :e "
                "WHERE id = :id"
            ),
            {"id": delivery_id, "e": error},
        )


def system_events(engine: Engine) -> list[Any]:
    return rows(
        engine,
        "SELECT name, org, env, payload FROM events "
        "WHERE name IN ('delivery:failed', 'destination:disabled') ORDER BY name",
    )


# -- system events ------------------------------------------------------------------------
def test_system_channels_are_built_in_and_read_only(admin: Control) -> None:
    system = [c for c in admin.channels.list() if c.is_system]
    assert {c.name for c in system} == {"delivery:failed", "destination:disabled"}
    with pytest.raises(ConfigError, match="read-only"):
        admin.channels.remove("delivery:failed")


def test_a_failed_delivery_emits_delivery_failed_and_admins_get_it(
    service: RouterService,
    admin: Control,
    seed: Seed,
    clean_db: Engine,
    dispatcher: RecordingDispatcher,
) -> None:
    _, hook, _ = seed.route("payment:.*", "http://127.0.0.1:9/hook")
    admin.destinations.add(
        DestinationIn(name="admins", type="webhook", config={"url": "http://127.0.0.1:9/admins"})
    )
    admin.subscriptions.add(
        SubscriptionIn(name="ops", channels=["delivery:failed"], destinations=["admins"])
    )
    service.store.refresh_routing_table()
    event = seed.event("payment:failed", env="production")
    delivery = seed.delivery(event, hook)
    fail(clean_db, delivery)

    assert service.emit_system_events() == 1
    (emitted,) = system_events(clean_db)
    assert (emitted.name, emitted.org, emitted.env) == ("delivery:failed", "default", "production")
    assert emitted.payload["event_id"] == event and emitted.payload["delivery_id"] == delivery
    assert emitted.payload["error"] == "HTTP 404 Not Found"
    admins_id = scalar(clean_db, "SELECT id FROM destinations WHERE name = 'admins'")
    assert [dest for _, dest in dispatcher.pairs] == [admins_id]
    assert service.emit_system_events() == 0  # each is emitted exactly once


def test_a_failed_delivery_of_a_system_event_emits_nothing(
    service: RouterService, admin: Control, seed: Seed, clean_db: Engine
) -> None:
    admin.destinations.add(
        DestinationIn(name="admins", type="webhook", config={"url": "http://127.0.0.1:9/admins"})
    )
    admins = scalar(clean_db, "SELECT id FROM destinations WHERE name = 'admins'")
    event = seed.event("delivery:failed", {"about": "something"})
    fail(clean_db, seed.delivery(event, admins))
    assert service.emit_system_events() == 0
    assert scalar(clean_db, "SELECT count(*) FROM system_events") == 0


def test_disabling_a_destination_emits_destination_disabled(
    service: RouterService, admin: Control, clean_db: Engine
) -> None:
    admin.destinations.add(
        DestinationIn(name="hook", type="webhook", config={"url": "http://127.0.0.1:9/hook"})
    )
    admin.destinations.set_enabled("hook", False)
    service.emit_system_events()
    (emitted,) = system_events(clean_db)
    assert emitted.name == "destination:disabled"
    assert emitted.payload == {
        "destination": "hook",
        "kind": "webhook",
        "reason": "disabled by an operator",
    }


# -- auto-disable ---------------------------------------------------------------------------
def attempts(engine: Engine, delivery_id: int, outcomes: list[tuple[str, float]]) -> None:
    """Attempt rows ``(outcome, hours_ago)`` for a delivery."""
    with engine.begin() as conn:
        for number, (outcome, hours_ago) in enumerate(outcomes, start=1):
            conn.execute(
                text(
                    "INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, "
                    "duration_ms, outcome, http_status) VALUES (:d, :n, "
                    "now() - make_interval(secs => :h * 3600), 5, :o, 503)"
                ),
                {"d": delivery_id, "n": number, "h": hours_ago, "o": outcome},
            )


def created_ago(engine: Engine, destination_id: int, hours: float) -> None:
    """Backdate a destination, so attempt rows made up in the past could have happened."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE destinations SET created_at = now() - make_interval(secs => :h * 3600), "
                "enabled_since = now() - make_interval(secs => :h * 3600) WHERE id = :id"
            ),
            {"id": destination_id, "h": hours},
        )


@pytest.fixture
def scheduler(settings: Settings, clean_db: Engine, dispatcher: RecordingDispatcher) -> Scheduler:
    tuned = settings.model_copy(
        update={"auto_disable_after": "24h", "auto_disable_min_attempts": 5}
    )
    return Scheduler(tuned, clean_db, dispatcher)


def test_a_destination_failing_for_the_whole_window_is_disabled_and_recoverable(
    scheduler: Scheduler, seed: Seed, clean_db: Engine, admin: Control
) -> None:
    _, hook, _ = seed.route(".*", "http://127.0.0.1:9/hook", name="hook")
    created_ago(clean_db, hook, 48)
    old = seed.delivery(seed.event(), hook, status="failed")
    attempts(
        clean_db, old, [("retry", 23.9), ("retry", 20), ("retry", 10), ("retry", 2), ("failed", 1)]
    )
    waiting = seed.delivery(seed.event(), hook, due_in=300)

    assert scheduler.disable_failing_destinations() == [hook]
    dest = rows(clean_db, "SELECT enabled, disabled_reason FROM destinations")[0]
    assert not dest.enabled and "every attempt failed for 1d (5 attempts)" in dest.disabled_reason
    assert scalar(clean_db, "SELECT status FROM deliveries WHERE id = :i", i=waiting) == "cancelled"

    admin.destinations.set_enabled("hook", True)
    assert sorted(admin.deliveries.retry_failed(destination="hook")) == sorted([old, waiting])
    assert {r.status for r in rows(clean_db, "SELECT status FROM deliveries")} == {"pending"}


@pytest.mark.parametrize(
    "outcomes",
    [
        [("retry", 23.9), ("retry", 20), ("succeeded", 10), ("retry", 2), ("retry", 1)],
        [("retry", 23.9), ("retry", 20), ("retry", 1)],  # too few attempts
        [("retry", 5), ("retry", 4), ("retry", 3), ("retry", 2), ("retry", 1)],  # too recent
    ],
)
def test_destinations_not_failing_for_the_window_stay_enabled(
    scheduler: Scheduler, seed: Seed, clean_db: Engine, outcomes: list[tuple[str, float]]
) -> None:
    _, hook, _ = seed.route(".*", "http://127.0.0.1:9/hook")
    created_ago(clean_db, hook, 48)
    attempts(clean_db, seed.delivery(seed.event(), hook), outcomes)
    assert scheduler.disable_failing_destinations() == []
    assert scalar(clean_db, "SELECT enabled FROM destinations") is True


def test_enabling_an_auto_disabled_destination_gives_it_a_whole_new_window(
    scheduler: Scheduler, seed: Seed, clean_db: Engine, admin: Control, service: RouterService
) -> None:
    """The failures that disabled it are not counted again: before, it was disabled again
    at the next check, cancelling what `retry --failed` had just queued."""
    _, hook, _ = seed.route(".*", "http://127.0.0.1:9/hook", name="hook")
    created_ago(clean_db, hook, 48)
    old = seed.delivery(seed.event(), hook, status="failed")
    attempts(
        clean_db, old, [("retry", 23.9), ("retry", 20), ("retry", 10), ("retry", 2), ("failed", 1)]
    )
    assert scheduler.disable_failing_destinations() == [hook]
    service.emit_system_events()

    admin.destinations.set_enabled("hook", True)
    assert admin.deliveries.retry_failed(destination="hook") == [old]
    assert scheduler.disable_failing_destinations() == []
    assert scalar(clean_db, "SELECT enabled FROM destinations") is True
    assert scalar(clean_db, "SELECT status FROM deliveries WHERE id = :i", i=old) == "pending"
    service.emit_system_events()
    assert [e.name for e in system_events(clean_db)] == ["destination:disabled"]


SINCE_ENABLED = "SELECT now() - enabled_since FROM destinations WHERE id = :id"


def test_enabled_since_is_set_by_every_path_that_enables(seed: Seed, clean_db: Engine) -> None:
    hook = seed.destination(enabled=False)
    created_ago(clean_db, hook, 48)
    with clean_db.begin() as conn:  # plain SQL, not the CLI: the trigger sets it
        conn.execute(text("UPDATE destinations SET enabled = true WHERE id = :id"), {"id": hook})
    since = scalar(clean_db, SINCE_ENABLED, id=hook)
    assert since.total_seconds() < 60
    with clean_db.begin() as conn:  # already enabled: an update keeps the restart point
        conn.execute(
            text("UPDATE destinations SET enabled = true, enabled_since = now() - interval '1 day'")
        )
        conn.execute(text("UPDATE destinations SET enabled = true WHERE id = :id"), {"id": hook})
    since = scalar(clean_db, SINCE_ENABLED, id=hook)
    assert since.total_seconds() > 23 * 3600


def test_failures_since_the_last_enable_still_disable(
    scheduler: Scheduler, seed: Seed, clean_db: Engine
) -> None:
    _, hook, _ = seed.route(".*", "http://127.0.0.1:9/hook")
    created_ago(clean_db, hook, 48)
    with clean_db.begin() as conn:
        conn.execute(text("UPDATE destinations SET enabled_since = now() - interval '25 hours'"))
    attempts(
        clean_db,
        seed.delivery(seed.event(), hook),
        [("retry", 23.9), ("retry", 20), ("retry", 10), ("retry", 2), ("retry", 1)],
    )
    assert scheduler.disable_failing_destinations() == [hook]


# -- SSRF guard at creation ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({"url": "http://127.0.0.1:8080/hook"}, "loopback"),
        ({"url": "http://169.254.169.254/latest/meta-data/"}, "link-local"),
        ({"url": "http://10.0.0.5/hook"}, "private"),
        ({"url": "http://[::1]/hook"}, "loopback"),
        ({"url": "http://[::ffff:127.0.0.1]/hook"}, "loopback"),
        ({"url": "http://localhost:9/hook"}, "loopback"),
    ],
)
def test_internal_addresses_are_refused_unless_allowed(
    settings: Settings, clean_db: Engine, config: dict[str, str], problem: str
) -> None:
    strict = control_for(clean_db, settings.model_copy(update={"allowed_networks": ""}))
    with pytest.raises(ConfigError, match=f"a {problem} address"):
        strict.destinations.add(DestinationIn(name="hook", type="webhook", config=config))
    assert scalar(clean_db, "SELECT count(*) FROM destinations") == 0


def test_allowed_networks_let_a_local_receiver_in(settings: Settings, clean_db: Engine) -> None:
    loopback = control_for(
        clean_db, settings.model_copy(update={"allowed_networks": "127.0.0.0/8"})
    )
    loopback.destinations.add(
        DestinationIn(name="hook", type="webhook", config={"url": "http://127.0.0.1:9/hook"})
    )
    with pytest.raises(ConfigError, match="private"):
        loopback.destinations.add(
            DestinationIn(name="lan", type="webhook", config={"url": "http://192.168.1.10/hook"})
        )


def test_smtp_hosts_are_guarded_too(settings: Settings, clean_db: Engine) -> None:
    strict = control_for(clean_db, settings.model_copy(update={"allowed_networks": ""}))
    config = {
        "to": ["ops@example.com"],
        "from_address": "er@example.com",
        "smtp": {"host": "10.1.1.1", "port": 25, "tls": "none"},
    }
    with pytest.raises(ConfigError, match=r"10\.1\.1\.1, a private address"):
        strict.destinations.add(DestinationIn(name="mail", type="email", config=config))
    assert json.dumps(config)  # nothing stored
    assert scalar(clean_db, "SELECT count(*) FROM destinations") == 0
