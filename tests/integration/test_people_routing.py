"""People as recipients on a real router (real Redis + Postgres, Celery replaced by a
recorder): one delivery per person and medium as their preferences say, a decision per
person, their own holds released to them alone, a removed person's rows cancelled."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, text

import eventrouter
from eventrouter.router.db import claims
from eventrouter.router.db import preferences as prefs_store
from eventrouter.router.errors import ConfigError, NotFound
from eventrouter.router.models.configuration import ChannelIn, SubscriptionIn, SubscriptionUpdate
from eventrouter.router.models.people import PeopleSettingsIn, UserIn
from eventrouter.router.models.rules import Rules
from eventrouter.router.people.preferences import Preferences, QuietHours
from eventrouter.router.service import RouterService
from eventrouter.router.settings import Settings
from tests.helpers import RecordingDispatcher, Seed, control_for, rows, scalar

MAIL = {
    "to": ["ops@example.com"],
    "from_address": "er@example.com",
    "smtp": {"host": "127.0.0.1", "port": 2525, "tls": "none"},
}
BOT = {
    "bot_token": "xoxb-1111-2222-abcdefghijkl",
    "channel": "C0OPS",
    "api_url": "http://127.0.0.1:9/api",
}


@pytest.fixture
def router(settings: Settings, clean_db: Engine, dispatcher: RecordingDispatcher) -> RouterService:
    service = RouterService(settings, engine=clean_db, dispatcher=dispatcher, consumer="people")
    service.reader.ensure_group()
    return service


def user(engine: Engine, settings: Settings, email: str, prefs: Preferences, **contact: Any) -> int:
    control = control_for(engine, settings)
    tz = contact.pop("timezone", None)
    added = control.users.add(
        UserIn(email=email, role=contact.pop("role", "developer"), timezone=tz)
    )
    with engine.begin() as conn:
        if contact:
            sets = ", ".join(f"{k} = :{k}" for k in contact)
            conn.execute(
                text(f"UPDATE users SET {sets} WHERE id = :id"), {**contact, "id": added.id}
            )
        prefs_store.save(conn, "default", added.id, prefs)
    return added.id


@pytest.fixture
def team(clean_db: Engine, settings: Settings, seed: Seed) -> dict[str, int]:
    """Four people with different wishes, the org's two media, the payments channel."""
    control = control_for(clean_db, settings)
    control.channels.add(ChannelIn(name="payments", pattern="payment:.*"))
    seed.destination(name="ops-mail", kind="email", config=MAIL)
    seed.destination(name="ops-slack-bot", kind="slack", config=BOT)
    control.people.set(PeopleSettingsIn(email_via="ops-mail", slack_via="ops-slack-bot"))
    always_quiet = QuietHours(window="00:00-24:00")  # the test moves the end instead
    return {
        "alice": user(clean_db, settings, "alice@example.com", Preferences(), role="admin"),
        "bob": user(
            clean_db, settings, "bob@example.com", Preferences(email_enabled=False),
            slack_user="U0BOB1",
        ),
        "kenji": user(
            clean_db, settings, "kenji@example.com", Preferences(quiet_hours=always_quiet),
            timezone="Asia/Tokyo",
        ),
        "carol": user(
            clean_db, settings, "carol@example.com", Preferences(channels={"payments": False}),
        ),
    }  # fmt: skip


def route(router: RouterService, settings: Settings, name: str = "payment:failed") -> str:
    event_id = eventrouter.publish(name, {"amount": 12}, settings=settings)
    router.step()
    while router.step():
        pass
    return event_id


def person_rows(engine: Engine) -> list[tuple[str, str, str | None]]:
    found = rows(
        engine,
        "SELECT recipient, address, digest_id FROM deliveries WHERE user_id IS NOT NULL "
        "ORDER BY recipient",
    )
    return [(r.recipient, r.address, r.digest_id) for r in found]


def person_decisions(engine: Engine, event_id: str) -> dict[str, tuple[str, str]]:
    found = rows(
        engine,
        "SELECT recipient, decision, reason FROM decisions "
        "WHERE event_id = :id AND recipient IS NOT NULL",
        id=event_id,
    )
    return {r.recipient: (r.decision, r.reason) for r in found}


def test_each_person_gets_what_they_chose_and_show_says_why(
    router: RouterService, settings: Settings, clean_db: Engine, team: dict[str, int]
) -> None:
    control = control_for(clean_db, settings)
    control.subscriptions.add(
        SubscriptionIn(name="pay", channels=["payments"], destinations=[], users="all")
    )
    event_id = route(router, settings)
    assert person_rows(clean_db) == [
        ("user:alice@example.com/email", "alice@example.com", None),
        ("user:bob@example.com/slack", "U0BOB1", None),
    ]
    found = person_decisions(clean_db, event_id)
    assert {k: d for k, (d, _) in found.items()} == {
        "user:alice@example.com/email": "delivered",
        "user:alice@example.com/slack": "unreachable",
        "user:bob@example.com/email": "medium_off",
        "user:bob@example.com/slack": "delivered",
        "user:kenji@example.com/email": "held",
        "user:kenji@example.com/slack": "unreachable",
        "user:carol@example.com/email": "opted_out",
        "user:carol@example.com/slack": "unreachable",
    }
    assert found["user:kenji@example.com/email"][1] == "quiet hours 00:00-24:00 (Asia/Tokyo)"
    assert found["user:carol@example.com/email"][1] == "opted out of payments"
    shown = control.events.show(event_id)
    assert {d.destination for d in shown.deliveries} == {
        "user:alice@example.com/email", "user:bob@example.com/slack",
    }  # fmt: skip
    held = [d for d in shown.decisions if d.recipient == "user:kenji@example.com/email"]
    assert held[0].decision == "held" and held[0].until is not None


def test_a_held_person_gets_one_digest_when_their_quiet_hours_end(
    router: RouterService, settings: Settings, clean_db: Engine, team: dict[str, int]
) -> None:
    control = control_for(clean_db, settings)
    control.subscriptions.add(
        SubscriptionIn(
            name="pay", channels=["payments"], destinations=[], users="kenji@example.com"
        )
    )
    first, second = route(router, settings), route(router, settings)
    assert person_rows(clean_db) == []
    assert scalar(clean_db, "SELECT count(*) FROM digests WHERE user_id IS NOT NULL") == 1
    with clean_db.begin() as conn:
        conn.exec_driver_sql("UPDATE digests SET release_at = now() WHERE released_at IS NULL")
    router.scheduler.release_digests()
    ((recipient, address, digest_id),) = person_rows(clean_db)
    assert (recipient, address) == ("user:kenji@example.com/email", "kenji@example.com")
    notice = scalar(clean_db, "SELECT notice FROM deliveries WHERE digest_id = :d", d=digest_id)
    assert notice["held"]["count"] == 2
    assert [e["id"] for e in notice["held"]["events"]] == [first, second]


def test_mandatory_ignores_opt_outs_and_roles_pick_people(
    router: RouterService, settings: Settings, clean_db: Engine, team: dict[str, int]
) -> None:
    control = control_for(clean_db, settings)
    control.subscriptions.add(
        SubscriptionIn(
            name="sec",
            channels=["payments"],
            destinations=[],
            users="carol@example.com,role:admin",
            mandatory=True,
        )
    )
    route(router, settings)
    assert [r for r, _, _ in person_rows(clean_db)] == [
        "user:alice@example.com/email", "user:carol@example.com/email",
    ]  # fmt: skip
    control.subscriptions.update("sec", SubscriptionUpdate(mandatory=False))
    assert router.store.refresh_routing_table()
    route(router, settings)
    assert scalar(clean_db, "SELECT count(*) FROM deliveries WHERE user_id IS NOT NULL") == 3


def test_a_person_removed_mid_flight_gets_nothing_more_and_no_one_else_loses(
    router: RouterService, settings: Settings, clean_db: Engine, team: dict[str, int]
) -> None:
    control = control_for(clean_db, settings)
    control.subscriptions.add(
        SubscriptionIn(name="pay", channels=["payments"], destinations=[], users="all")
    )
    route(router, settings)
    planned = {r.recipient: r.id for r in rows(clean_db, "SELECT id, recipient FROM deliveries")}
    control.users.remove("alice@example.com")
    mail = scalar(clean_db, "SELECT id FROM destinations WHERE name = 'ops-mail'")
    bot = scalar(clean_db, "SELECT id FROM destinations WHERE name = 'ops-slack-bot'")
    with clean_db.begin() as conn:
        assert (
            claims.claim(conn, mail, list(planned.values()), lease_seconds=30, token=_TOKEN) == []
        )
        taken = claims.claim(conn, bot, list(planned.values()), lease_seconds=30, token=_TOKEN)
    assert [(d.id, d.address) for d in taken] == [(planned["user:bob@example.com/slack"], "U0BOB1")]
    states = {
        r.recipient: (r.status, r.last_error) for r in rows(clean_db, "SELECT * FROM deliveries")
    }
    assert states["user:alice@example.com/email"] == ("cancelled", "user removed")
    assert states["user:bob@example.com/slack"][0] == "delivering"
    route(router, settings)  # the next event does not plan her at all
    assert (
        scalar(clean_db, "SELECT count(*) FROM deliveries WHERE recipient LIKE 'user:alice%'") == 1
    )


_TOKEN = "00000000-0000-4000-8000-000000000001"


def test_one_row_per_event_destination_and_person(
    router: RouterService, settings: Settings, clean_db: Engine, team: dict[str, int]
) -> None:
    """Two subscriptions reaching one person, and the org's mail also a destination of its
    own: one delivery each, and a second routing of the event adds nothing."""
    control = control_for(clean_db, settings)
    for name in ("a", "b"):
        control.subscriptions.add(
            SubscriptionIn(
                name=name, channels=["payments"], destinations=["ops-mail"], users="role:admin"
            )
        )
    event_id = route(router, settings)
    found = rows(clean_db, "SELECT recipient FROM deliveries ORDER BY id")
    assert sorted(r.recipient or "-" for r in found) == ["-", "user:alice@example.com/email"]
    with clean_db.begin() as conn:  # the same rows again: the unique indexes refuse them
        again = conn.execute(
            text(
                "INSERT INTO deliveries (event_id, destination_id, subscription_id, user_id, "
                "recipient, address) SELECT event_id, destination_id, subscription_id, user_id, "
                "recipient, address FROM deliveries WHERE event_id = :id "
                "ON CONFLICT DO NOTHING"
            ),
            {"id": event_id},
        )
        assert again.rowcount == 0


def test_people_settings_and_recipients_are_checked(
    settings: Settings, clean_db: Engine, seed: Seed, team: dict[str, int]
) -> None:
    control = control_for(clean_db, settings)
    seed.destination(name="hook")
    seed.destination(
        name="webhook-slack",
        kind="slack",
        config={"webhook_url": "https://hooks.slack.com/services/T/B/x"},
    )
    with pytest.raises(ConfigError, match="'hook' is a webhook destination; name a email one"):
        control.people.set(PeopleSettingsIn(email_via="hook"))
    with pytest.raises(ConfigError, match="incoming webhook, which cannot reach a person"):
        control.people.set(PeopleSettingsIn(slack_via="webhook-slack"))
    with pytest.raises(NotFound, match="no destination named 'nope'"):
        control.people.set(PeopleSettingsIn(slack_via="nope"))
    assert control.people.show().model_dump() == {
        "email_via": "ops-mail", "slack_via": "ops-slack-bot",
    }  # fmt: skip
    assert control.people.set(PeopleSettingsIn(slack_via=None)).slack_via is None
    with pytest.raises(NotFound, match=r"no user .zed@example\.com."):
        control.subscriptions.add(
            SubscriptionIn(
                name="x", channels=["payments"], destinations=[], users="zed@example.com"
            )
        )
    with pytest.raises(ConfigError, match="at least one --destination or --users"):
        control.subscriptions.add(SubscriptionIn(name="x", channels=["payments"], destinations=[]))


def release_groups_now(engine: Engine) -> None:
    """The group wait is over (people's own holds keep their time)."""
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE digests SET release_at = now() WHERE released_at IS NULL AND kind = 'group'"
        )


def test_a_rules_group_reaches_each_person_once_as_they_chose(
    router: RouterService, settings: Settings, clean_db: Engine, team: dict[str, int]
) -> None:
    """A subscription's group is released to its people as well as its destinations: one
    digest per person and medium, through their own quiet hours and opt-outs."""
    control = control_for(clean_db, settings)
    control.subscriptions.add(
        SubscriptionIn(
            name="pay",
            channels=["payments"],
            destinations=["ops-mail"],
            users="all",
            rules=Rules(group_by="name", group_wait="5m"),
        )
    )
    first = route(router, settings)
    later = [route(router, settings), route(router, settings)]
    assert person_rows(clean_db) == [] and rows(clean_db, "SELECT id FROM deliveries") == []
    found = person_decisions(clean_db, first)
    assert {k: d for k, (d, _) in found.items()} == {
        "user:alice@example.com/email": "grouped",
        "user:alice@example.com/slack": "unreachable",
        "user:bob@example.com/email": "medium_off",
        "user:bob@example.com/slack": "grouped",
        "user:kenji@example.com/email": "held",
        "user:kenji@example.com/slack": "unreachable",
        "user:carol@example.com/email": "opted_out",
        "user:carol@example.com/slack": "unreachable",
    }
    group_until = scalar(
        clean_db, "SELECT until FROM decisions WHERE event_id = :e AND recipient IS NULL", e=first
    )
    kenji_until = scalar(
        clean_db,
        "SELECT until FROM decisions WHERE event_id = :e AND recipient LIKE 'user:kenji%'",
        e=first,
    )
    assert kenji_until > group_until  # his quiet hours, as of the group's release
    release_groups_now(clean_db)
    assert router.scheduler.release_digests() == 3  # the subscription's, Alice's and Bob's
    sent = rows(
        clean_db,
        "SELECT recipient, address, event_id, notice FROM deliveries "
        "ORDER BY recipient NULLS FIRST",
    )
    assert [(r.recipient, r.address) for r in sent] == [
        (None, None),
        ("user:alice@example.com/email", "alice@example.com"),
        ("user:bob@example.com/slack", "U0BOB1"),
    ]
    for row in sent:
        assert str(row.event_id) == later[-1]
        assert row.notice["group"]["count"] == 3
        assert [e["id"] for e in row.notice["group"]["events"]] == [first, *later]
    # Kenji's quiet hours end later: then his own digest of the same three events.
    with clean_db.begin() as conn:
        conn.exec_driver_sql("UPDATE digests SET release_at = now() WHERE released_at IS NULL")
    assert router.scheduler.release_digests() == 1
    ((_, _, digest_id),) = [r for r in person_rows(clean_db) if "kenji" in r[0]]
    notice = scalar(clean_db, "SELECT notice FROM deliveries WHERE digest_id = :d", d=digest_id)
    assert notice["held"]["count"] == 3


def test_a_rules_hold_reaches_people_and_mandatory_still_ignores_opt_outs(
    router: RouterService, settings: Settings, clean_db: Engine, team: dict[str, int]
) -> None:
    control = control_for(clean_db, settings)
    control.subscriptions.add(
        SubscriptionIn(
            name="sec",
            channels=["payments"],
            destinations=[],
            users="carol@example.com,bob@example.com",
            mandatory=True,
            rules=Rules(quiet_hours="00:00-24:00", timezone="UTC"),
        )
    )
    held = [route(router, settings), route(router, settings)]
    found = person_decisions(clean_db, held[0])
    assert found["user:carol@example.com/email"][0] == "held"  # mandatory: her opt-out ignored
    assert found["user:bob@example.com/slack"][0] == "held"
    assert person_rows(clean_db) == []
    with clean_db.begin() as conn:
        conn.exec_driver_sql("UPDATE digests SET release_at = now() WHERE released_at IS NULL")
    router.scheduler.release_digests()
    sent = rows(clean_db, "SELECT recipient, notice FROM deliveries ORDER BY recipient")
    assert [r.recipient for r in sent] == [
        "user:bob@example.com/slack", "user:carol@example.com/email",
    ]  # fmt: skip
    assert all(r.notice["held"]["count"] == 2 for r in sent)
