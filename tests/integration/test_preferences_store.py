"""Preferences storage on real Postgres: defaults without a row, the row written on first
read, whole-row saves, one statement for a batch of users, paging, and a removed user's
preferences gone with them."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from eventrouter.router.control import Caller, Control
from eventrouter.router.db import preferences as store
from eventrouter.router.errors import ConfigError
from eventrouter.router.models.people import UserIn, UserUpdate
from eventrouter.router.people.preferences import Medium, Preferences, PreferencesChange
from eventrouter.router.settings import Settings


def rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM user_preferences")).scalar_one())


def test_preferences_default_until_saved_and_go_with_their_user(
    clean_db: Engine, settings: Settings
) -> None:
    admin = Control(clean_db, settings, Caller(org="acme"))
    ana = admin.users.add(UserIn(email="ana@example.com", role="viewer", slack_user="U0ANA"))
    bo = admin.users.add(UserIn(email="bo@example.com", role="viewer", timezone="Asia/Tokyo"))
    other = Control(clean_db, settings, Caller(org="other")).users.add(
        UserIn(email="cy@example.com", role="viewer")
    )

    with clean_db.begin() as conn:
        # The router's read: every user, defaults without a row, nothing written.
        loaded = store.load_many(conn, [ana.id, bo.id, ana.id, 999_999])
        assert set(loaded) == {ana.id, bo.id}
        assert loaded[ana.id].preferences == Preferences() and loaded[ana.id].updated_at is None
        assert loaded[ana.id].address(Medium.SLACK) == "U0ANA"
        assert loaded[bo.id].timezone == "Asia/Tokyo"
        assert store.load_many(conn, []) == {}
    assert rows(clean_db) == 0

    with clean_db.begin() as conn:
        first = store.ensure(conn, "acme", ana.id)
        assert first is not None and first.updated_at is not None
        assert store.ensure(conn, "acme", ana.id) == first  # once
        assert store.ensure(conn, "acme", other.id) is None  # another org's user: not found
        change = PreferencesChange.model_validate(
            {
                "slack_enabled": False,
                "channels": {"payments": False},
                "quiet_hours": {"window": "22:00-07:00", "days": "mon-fri", "mode": "drop"},
                "digest": "daily 08:30",
            }
        )
        saved = store.save(conn, "acme", ana.id, first.preferences.updated(change))
        assert store.save(conn, "acme", other.id, Preferences()) is None
    assert rows(clean_db) == 1
    assert saved is not None and saved.preferences.quiet_hours is not None
    with clean_db.begin() as conn:
        again = store.load_many(conn, [ana.id])[ana.id]
        locked = store.load(conn, "acme", ana.id, lock=True)
    assert (
        again.preferences
        == saved.preferences
        == Preferences.model_validate({**change.model_dump(exclude_unset=True)})
    )
    assert locked == again

    with clean_db.begin() as conn:
        page = store.list_page(conn, "acme", after_id=0, limit=1)
        rest = store.list_page(conn, "acme", after_id=page[-1].user_id, limit=10)
    assert [p.email for p in page + rest] == ["ana@example.com", "bo@example.com"]
    assert rest[0].updated_at is None  # never saved: the defaults

    admin.users.remove("ana@example.com")
    assert rows(clean_db) == 0
    with clean_db.begin() as conn:
        assert set(store.load_many(conn, [ana.id, bo.id])) == {bo.id}


def test_a_users_slack_contact_is_checked_and_changed_field_by_field(
    clean_db: Engine, settings: Settings
) -> None:
    admin = Control(clean_db, settings, Caller(org="acme"))
    admin.users.add(UserIn(email="ana@example.com", role="admin", name="Ana"))
    user = admin.users.update("ana@example.com", UserUpdate(slack_user="U0ANA"))
    assert (user.slack_user, user.name, user.role) == ("U0ANA", "Ana", "admin")
    user = admin.users.update("ANA@example.com", UserUpdate(slack_channel="C0OPS", role="viewer"))
    assert (user.slack_user, user.slack_channel, user.role) == ("U0ANA", "C0OPS", "viewer")
    cleared = admin.users.update("ana@example.com", UserUpdate.model_validate({"slack_user": None}))
    assert cleared.slack_user is None and cleared.slack_channel == "C0OPS"
    with pytest.raises(ConfigError, match="not a Slack member id") as caught:
        admin.users.update("ana@example.com", UserUpdate(slack_user="@ana"))
    assert caught.value.field == ("slack_user",)
    with pytest.raises(ConfigError, match="not a Slack channel id"):
        admin.users.add(UserIn(email="bo@example.com", role="viewer", slack_channel="#ops"))
