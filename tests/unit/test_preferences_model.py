"""The preferences model: defaults, partial updates, validation naming the field, and the
pure time questions (quiet hours and digests in the user's zone)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from eventrouter.router.models.rules import QuietMode
from eventrouter.router.people.preferences import (
    Medium,
    Preferences,
    PreferencesChange,
    UserPreferences,
    next_digest_at,
    quiet_until,
)

THURSDAY_14_UTC = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)  # 23:00 in Tokyo


def test_the_defaults_are_everything_on_at_once() -> None:
    prefs = Preferences()
    assert prefs.medium_enabled(Medium.EMAIL) and prefs.medium_enabled(Medium.SLACK)
    assert prefs.channel_enabled("payments")
    assert quiet_until(prefs, "Asia/Tokyo", THURSDAY_14_UTC) is None
    assert next_digest_at(prefs, None, THURSDAY_14_UTC) is None


def test_a_change_sets_only_its_fields_and_merges_channels() -> None:
    prefs = Preferences(channels={"payments": False, "deploys": False}, email_address="a@b.io")
    changed = prefs.updated(PreferencesChange(channels={"deploys": True}, slack_enabled=False))
    assert changed.channels == {"payments": False, "deploys": True}
    assert not changed.channel_enabled("payments") and changed.channel_enabled("deploys")
    assert changed.email_address == "a@b.io" and not changed.medium_enabled(Medium.SLACK)
    assert changed.email_enabled
    reset = changed.updated(PreferencesChange.model_validate({"email_address": None}))
    assert reset.email_address is None and reset.channels == changed.channels


def test_a_change_takes_every_preference_with_the_same_type_and_the_users_timezone() -> None:
    """A preference is declared once: one added to ``Preferences`` alone would fail here."""
    assert set(PreferencesChange.model_fields) == {*Preferences.model_fields, "timezone"}
    for name, field in Preferences.model_fields.items():
        assert PreferencesChange.model_fields[name].annotation == field.annotation
        assert PreferencesChange.model_fields[name].metadata == field.metadata


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"digest": "weekly"}, ("digest",)),
        ({"timezone": "Mars/Olympus"}, ("timezone",)),
        ({"email_enabled": None}, ("email_enabled",)),
        ({"slack_target": "#general"}, ("slack_target",)),
        ({"email_address": "not-an-address"}, ("email_address",)),
        ({"quiet_hours": {"window": "25:00-07:00"}}, ("quiet_hours", "window")),
        ({"quiet_hours": {"window": "22:00-07:00", "days": "someday"}}, ("quiet_hours", "days")),
        ({"quiet_hours": {"window": "22:00-07:00", "mode": "snooze"}}, ("quiet_hours", "mode")),
        ({"sms_enabled": True}, ("sms_enabled",)),
    ],
)
def test_bad_input_is_refused_naming_the_field(body: dict[str, object], field: tuple[str]) -> None:
    with pytest.raises(ValidationError) as caught:
        PreferencesChange.model_validate(body)
    assert caught.value.errors()[0]["loc"] == field


def test_quiet_hours_are_read_in_the_users_zone_and_on_their_days() -> None:
    prefs = Preferences.model_validate(
        {"quiet_hours": {"window": "22:00-07:00", "days": "mon-fri", "mode": "drop"}}
    )
    assert prefs.quiet_hours is not None and prefs.quiet_hours.mode is QuietMode.DROP
    # Thursday 23:00 in Tokyo: quiet until Friday 07:00 there (22:00 UTC).
    assert quiet_until(prefs, "Asia/Tokyo", THURSDAY_14_UTC) == datetime(
        2026, 12, 3, 22, 0, tzinfo=UTC
    )
    assert quiet_until(prefs, "Europe/Paris", THURSDAY_14_UTC) is None  # 15:00 there
    saturday = datetime(2026, 12, 5, 14, 0, tzinfo=UTC)
    assert quiet_until(prefs, "Asia/Tokyo", saturday) is None  # not a quiet day
    # A zone that became unknown is read as UTC rather than failing the router.
    assert quiet_until(prefs, "Gone/Zone", datetime(2026, 12, 3, 23, tzinfo=UTC)) == datetime(
        2026, 12, 4, 7, 0, tzinfo=UTC
    )


def test_digests_are_sent_on_the_hour_or_at_the_users_daily_time() -> None:
    hourly = Preferences(digest="hourly")
    assert next_digest_at(hourly, None, THURSDAY_14_UTC.replace(minute=59)) == datetime(
        2026, 12, 3, 15, 0, tzinfo=UTC
    )
    daily = Preferences(digest="Daily  08:30")
    assert daily.digest == "daily 08:30"
    assert next_digest_at(daily, "Asia/Tokyo", THURSDAY_14_UTC) == datetime(
        2026, 12, 3, 23, 30, tzinfo=UTC
    )
    assert next_digest_at(daily, None, THURSDAY_14_UTC) == datetime(2026, 12, 4, 8, 30, tzinfo=UTC)


def test_a_users_address_is_the_override_else_the_defaults() -> None:
    user = UserPreferences(user_id=1, email="ana@example.com", slack_channel="C0CHAN")
    assert user.address(Medium.EMAIL) == "ana@example.com"
    assert user.address(Medium.SLACK) == "C0CHAN"
    user = user.model_copy(update={"slack_user": "U0ANA"})
    assert user.address(Medium.SLACK) == "U0ANA"
    overridden = user.model_copy(
        update={"preferences": Preferences(email_address="ana@home.io", slack_target="C0MINE")}
    )
    assert overridden.address(Medium.EMAIL) == "ana@home.io"
    assert overridden.address(Medium.SLACK) == "C0MINE"
    assert UserPreferences(user_id=2, email="bo@example.com").address(Medium.SLACK) is None
