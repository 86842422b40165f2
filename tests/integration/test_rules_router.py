"""Rules evaluated by a real router on real Redis + Postgres (Celery replaced by a
recorder): every (event, subscription) gets one decision, state lives in Postgres."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

import eventrouter
from eventrouter.router.errors import ConfigError
from eventrouter.router.models.configuration import ChannelIn, SubscriptionIn
from eventrouter.router.models.rules import Rules
from eventrouter.router.service import RouterService
from eventrouter.router.settings import Settings
from tests.helpers import RecordingDispatcher, Seed, control_for, rows, scalar


@pytest.fixture
def router(settings: Settings, clean_db: Engine, dispatcher: RecordingDispatcher) -> RouterService:
    service = RouterService(settings, engine=clean_db, dispatcher=dispatcher, consumer="rules")
    service.reader.ensure_group()
    return service


def subscribe(engine: Engine, settings: Settings, seed: Seed, **rules: Any) -> str:
    """A channel ``run:.*``, a webhook and a subscription ``watch`` with ``rules``."""
    control = control_for(engine, settings)
    control.channels.add(ChannelIn(name="runs", pattern="run:.*"))
    seed.destination(name="hook")
    control.subscriptions.add(
        SubscriptionIn(name="watch", channels=["runs"], destinations=["hook"], rules=Rules(**rules))
    )
    return "watch"


def route(router: RouterService, settings: Settings, *payloads: dict[str, Any]) -> list[str]:
    ids = [eventrouter.publish("run:finished", p, settings=settings) for p in payloads]
    router.step()  # loads the table, reads the batch
    while router.step():
        pass
    return ids


def decisions(engine: Engine, ids: list[str]) -> list[tuple[str, str]]:
    found = {
        str(r.event_id): (r.decision, r.reason)
        for r in rows(engine, "SELECT event_id, decision, reason FROM decisions")
    }
    return [found[i] for i in ids]


def delivered(engine: Engine) -> list[tuple[str, Any]]:
    return [
        (str(r.event_id), r.notice)
        for r in rows(engine, "SELECT event_id, notice FROM deliveries ORDER BY id")
    ]


def test_a_filter_delivers_matches_and_records_the_rest(
    router: RouterService, settings: Settings, clean_db: Engine, seed: Seed
) -> None:
    subscribe(clean_db, settings, seed, filter="payload.accuracy < 0.9")
    low, high, missing, wrong = route(
        router, settings, {"accuracy": 0.5}, {"accuracy": 0.95}, {}, {"accuracy": "x"}
    )
    found = decisions(clean_db, [low, high, missing, wrong])
    assert [d for d, _ in found] == ["delivered", "filtered", "filter_error", "filter_error"]
    assert "no field 'accuracy'" in found[2][1] and "has(" in found[2][1]
    assert [e for e, _ in delivered(clean_db)] == [low]


def test_on_change_fires_once_and_resolves_once(
    router: RouterService, settings: Settings, clean_db: Engine, seed: Seed
) -> None:
    subscribe(
        clean_db,
        settings,
        seed,
        filter="payload.accuracy < 0.9",
        notify="on-change",
        key="payload.experiment",
        resolve=True,
    )
    accuracies = [0.95, 0.85, 0.8, 0.7, 0.92, 0.91]
    ids = route(router, settings, *({"experiment": "iris", "accuracy": a} for a in accuracies))
    other = route(router, settings, {"experiment": "mnist", "accuracy": 0.5})
    assert [d for d, _ in decisions(clean_db, ids)] == [
        "filtered", "delivered", "unchanged", "unchanged", "delivered", "filtered",
    ]  # fmt: skip
    iris, mnist = "eventrouter-rule-1-iris", "eventrouter-rule-1-mnist"
    assert dict(delivered(clean_db)) == {
        ids[1]: {"key": "iris", "state": "firing", "dedup_key": iris},
        ids[4]: {"key": "iris", "state": "resolved", "dedup_key": iris},
        other[0]: {"key": "mnist", "state": "firing", "dedup_key": mnist},
    }
    state = rows(clean_db, "SELECT key, firing FROM rule_state ORDER BY key")
    assert [(s.key, s.firing) for s in state] == [("iris", False), ("mnist", True)]


def test_on_change_state_survives_a_new_router(
    router: RouterService,
    settings: Settings,
    clean_db: Engine,
    seed: Seed,
    dispatcher: RecordingDispatcher,
) -> None:
    subscribe(clean_db, settings, seed, filter="payload.down", notify="on-change", for_count=2)
    first = route(router, settings, {"down": True})
    again = RouterService(settings, engine=clean_db, dispatcher=dispatcher, consumer="other")
    second = route(again, settings, {"down": True}, {"down": True})
    assert [d for d, _ in decisions(clean_db, first + second)] == [
        "unchanged", "delivered", "unchanged",
    ]  # fmt: skip
    assert "1 of 2 consecutive matches" in decisions(clean_db, first)[0][1]


def test_throttled_events_are_counted_in_the_next_notification(
    router: RouterService, settings: Settings, clean_db: Engine, seed: Seed
) -> None:
    subscribe(clean_db, settings, seed, key="payload.service", repeat_interval="4h")
    ids = route(router, settings, *({"service": "api"} for _ in range(3)))
    assert [d for d, _ in decisions(clean_db, ids)] == ["delivered", "throttled", "throttled"]
    with clean_db.begin() as conn:  # the interval passes
        conn.exec_driver_sql("UPDATE rule_state SET notified_at = now() - interval '5 hours'")
    later = route(router, settings, {"service": "api"})
    assert delivered(clean_db)[-1] == (later[0], {"key": "api", "throttled": 2})


def test_bad_rules_are_refused_at_creation_with_the_position(
    settings: Settings, clean_db: Engine, seed: Seed
) -> None:
    with pytest.raises(ConfigError, match="syntax error at column 19"):
        subscribe(clean_db, settings, seed, filter="payload.accuracy <")
    control = control_for(clean_db, settings)
    bad_zone = Rules(quiet_hours="23:00-07:00", timezone="Mars/Olympus")
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus'"):
        control.subscriptions.add(
            SubscriptionIn(name="w", channels=["runs"], destinations=["hook"], rules=bad_zone)
        )
    assert scalar(clean_db, "SELECT count(*) FROM subscriptions") == 0


def test_a_subscription_without_rules_records_delivered(
    router: RouterService, settings: Settings, clean_db: Engine, seed: Seed
) -> None:
    seed.route("run:.*", "http://127.0.0.1:9/hook")
    ids = route(router, settings, {})
    assert decisions(clean_db, ids) == [("delivered", "")]


def release_now(engine: Engine) -> None:
    """Move every open digest's release to now: the group wait / quiet hours are over."""
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE digests SET release_at = now() WHERE released_at IS NULL")


def test_a_storm_becomes_one_digest_per_key(
    router: RouterService, settings: Settings, clean_db: Engine, seed: Seed
) -> None:
    subscribe(clean_db, settings, seed, group_by="payload.service", group_wait="30s")
    storm = route(router, settings, *({"service": "checkout", "n": i} for i in range(120)))
    other = route(router, settings, {"service": "search"})
    assert {d for d, _ in decisions(clean_db, storm + other)} == {"grouped"}
    assert delivered(clean_db) == []
    assert router.scheduler.release_digests() == 0  # the wait is not over
    release_now(clean_db)
    assert router.scheduler.release_digests() == 2
    sent = {n["group"]["key"]: (e, n) for e, n in delivered(clean_db)}
    checkout_event, checkout = sent["checkout"]
    assert checkout["group"]["count"] == 120 and len(checkout["group"]["events"]) == 100
    assert checkout["group"]["events"][0]["payload"] == {"service": "checkout", "n": 0}
    assert checkout_event == storm[-1]  # the digest carries the latest event
    assert checkout["id"].startswith("digest-") and checkout["key"] == "checkout"
    assert sent["search"][1]["group"]["count"] == 1
    assert router.scheduler.release_digests() == 0  # released once
    # The next event opens a new group; show links the old ones to their delivery.
    late = route(router, settings, {"service": "checkout"})
    assert scalar(clean_db, "SELECT count(*) FROM digests WHERE released_at IS NULL") == 1
    digest_delivery = scalar(clean_db, "SELECT id FROM deliveries WHERE event_id = :e", e=storm[-1])
    shown = control_for(clean_db, settings).events.show(storm[0])
    assert shown.decisions[0].digest_deliveries == [digest_delivery]
    assert decisions(clean_db, late)[0][0] == "grouped"


def test_quiet_hours_hold_then_flush_one_digest(
    router: RouterService, settings: Settings, clean_db: Engine, seed: Seed
) -> None:
    subscribe(
        clean_db,
        settings,
        seed,
        quiet_hours="00:00-24:00",  # always quiet: the test moves the end instead
        timezone="America/New_York",
        urgent='payload.severity == "critical"',
    )
    held = route(router, settings, {"severity": "low"}, {"severity": "warning"})
    urgent = route(router, settings, {"severity": "critical"})
    found = decisions(clean_db, held + urgent)
    assert [d for d, _ in found] == ["held", "held", "delivered"]
    until = rows(clean_db, "SELECT until FROM decisions WHERE decision = 'held'")[0].until
    assert until is not None and "quiet hours 00:00-24:00" in found[0][1]
    assert [e for e, _ in delivered(clean_db)] == urgent
    release_now(clean_db)
    router.scheduler.release_digests()
    event_id, notice = delivered(clean_db)[-1]
    assert event_id == held[-1] and notice["held"]["count"] == 2
    assert [e["id"] for e in notice["held"]["events"]] == held


def test_quiet_hours_drop(
    router: RouterService, settings: Settings, clean_db: Engine, seed: Seed
) -> None:
    subscribe(
        clean_db, settings, seed, quiet_hours="00:00-24:00", timezone="UTC", quiet_mode="drop"
    )
    dropped = route(router, settings, {})
    assert decisions(clean_db, dropped)[0][0] == "dropped"
    assert delivered(clean_db) == [] and scalar(clean_db, "SELECT count(*) FROM digests") == 0
