"""The preference merge (subscription x user x channel x time), by property and by example."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventrouter.router.models.rules import Decision, QuietMode
from eventrouter.router.people.merge import Media, PersonVerdict, Reach, merge
from eventrouter.router.people.preferences import (
    Medium,
    Preferences,
    QuietHours,
    UserPreferences,
    next_digest_at,
    quiet_until,
)
from eventrouter.router.people.recipients import parse_recipients

CHANNELS = ("payments", "ops", "security")
ZONES = (None, "UTC", "Asia/Tokyo", "America/New_York", "Asia/Kolkata", "Europe/Paris")
EMAIL, SLACK = 7, 8


@st.composite
def quiet_hours(draw: st.DrawFn) -> QuietHours | None:
    if draw(st.booleans()):
        return None
    start = draw(st.integers(0, 23 * 60 + 59))
    end = draw(st.integers(0, 24 * 60).filter(lambda m: m != start))
    window = f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
    days = draw(st.sampled_from([None, "mon-fri", "sat,sun", "wed"]))
    return QuietHours(window=window, days=days, mode=draw(st.sampled_from(list(QuietMode))))


@st.composite
def people(draw: st.DrawFn) -> UserPreferences:
    prefs = Preferences(
        email_enabled=draw(st.booleans()),
        slack_enabled=draw(st.booleans()),
        channels=draw(st.dictionaries(st.sampled_from(CHANNELS), st.booleans())),
        email_address=draw(st.sampled_from([None, "other@example.com"])),
        slack_target=draw(st.sampled_from([None, "C0PAGER1"])),
        quiet_hours=draw(quiet_hours()),
        digest=draw(st.sampled_from(["immediate", "hourly", "daily 08:30", "daily 23:00"])),
    )
    return UserPreferences(
        user_id=1,
        email="alice@example.com",
        timezone=draw(st.sampled_from(ZONES)),
        slack_user=draw(st.sampled_from([None, "U0ALICE1"])),
        slack_channel=draw(st.sampled_from([None, "C0ALICE1"])),
        preferences=prefs,
    )


media = st.builds(Media, st.sampled_from([None, EMAIL]), st.sampled_from([None, SLACK]))
reaches = st.builds(
    Reach,
    st.frozensets(st.sampled_from(CHANNELS), min_size=1),
    st.booleans(),
    st.booleans(),
)
instants = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@given(people(), media, reaches, instants)
def test_one_verdict_per_medium_and_each_follows_the_rules(
    person: UserPreferences, org: Media, reach: Reach, now: datetime
) -> None:
    verdicts = merge(person, org, reach, now)
    assert [v.medium for v in verdicts] == [Medium.EMAIL, Medium.SLACK]
    prefs = person.preferences
    none_on = not (prefs.email_enabled or prefs.slack_enabled)
    for v in verdicts:
        assert v.recipient == f"user:alice@example.com/{v.medium.value}"
        if org.via(v.medium) is None:
            assert v.decision == Decision.UNREACHABLE
            continue
        if not prefs.medium_enabled(v.medium) and not (reach.mandatory and none_on):
            assert v.decision == Decision.MEDIUM_OFF
            continue
        if person.address(v.medium) is None:
            assert v.decision == Decision.UNREACHABLE
            continue
        opted_out = all(not prefs.channel_enabled(c) for c in reach.channels)
        if opted_out and not reach.mandatory:
            assert v.decision == Decision.OPTED_OUT
            continue
        # From here on the person is reached: now, later, or (drop) never.
        assert v.destination_id == org.via(v.medium)
        assert v.address == person.address(v.medium)
        quiet = quiet_until(prefs, person.timezone, now)
        digest = next_digest_at(prefs, person.timezone, now)
        if reach.urgent or (quiet is None and digest is None):
            assert v.decision == Decision.DELIVERED and v.until is None
        elif quiet is not None:
            assert prefs.quiet_hours is not None
            held = prefs.quiet_hours.mode is QuietMode.HOLD
            assert v.decision == (Decision.HELD if held else Decision.DROPPED)
            assert v.until == (quiet if held else None)
            assert v.digest == ("hold" if held else None)
        else:
            assert v.decision == Decision.DIGESTED and v.digest == "digest"
            assert v.until == digest


@given(people(), media, reaches, instants)
def test_mandatory_ignores_opt_outs_and_urgent_ignores_quiet_hours(
    person: UserPreferences, org: Media, reach: Reach, now: datetime
) -> None:
    mandatory = merge(person, org, Reach(reach.channels, True, reach.urgent), now)
    assert Decision.OPTED_OUT not in {v.decision for v in mandatory}
    urgent = merge(person, org, Reach(reach.channels, reach.mandatory, True), now)
    waiting = {Decision.HELD, Decision.DROPPED, Decision.DIGESTED}
    assert not waiting & {v.decision for v in urgent}


@given(people(), media, reaches, instants, st.sampled_from(CHANNELS))
def test_opting_out_never_adds_a_delivery(
    person: UserPreferences, org: Media, reach: Reach, now: datetime, channel: str
) -> None:
    prefs = person.preferences
    fewer = person.model_copy(
        update={
            "preferences": prefs.model_copy(update={"channels": {**prefs.channels, channel: False}})
        }
    )
    before = _reached(merge(person, org, reach, now))
    after = _reached(merge(fewer, org, reach, now))
    assert after <= before


def _reached(verdicts: list[PersonVerdict]) -> set[Medium]:
    return {v.medium for v in verdicts if v.decision == Decision.DELIVERED}


def _person(prefs: Preferences, timezone: str | None = None) -> UserPreferences:
    return UserPreferences(
        user_id=3,
        email="kenji@example.com",
        timezone=timezone,
        slack_user="U0KENJI1",
        preferences=prefs,
    )


BOTH = Media(EMAIL, SLACK)
PAYMENTS = Reach(frozenset({"payments"}))


def test_quiet_hours_in_tokyo_hold_until_seven_tokyo_time() -> None:
    prefs = Preferences(quiet_hours=QuietHours(window="22:00-07:00"))
    now = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)  # 00:00 in Tokyo
    email, slack = merge(_person(prefs, "Asia/Tokyo"), BOTH, PAYMENTS, now)
    assert email.decision == slack.decision == Decision.HELD
    assert email.until == datetime(2026, 12, 3, 22, 0, tzinfo=UTC)  # 07:00 in Tokyo
    assert email.reason == "quiet hours 22:00-07:00 (Asia/Tokyo)"
    # The same instant is 15:00 in UTC: not quiet for someone there.
    email, _ = merge(_person(prefs, "UTC"), BOTH, PAYMENTS, now)
    assert email.decision == Decision.DELIVERED and email.address == "kenji@example.com"


def test_drop_mode_drops_and_urgent_still_goes_out() -> None:
    prefs = Preferences(quiet_hours=QuietHours(window="00:00-24:00", mode=QuietMode.DROP))
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    assert merge(_person(prefs), BOTH, PAYMENTS, now)[0].decision == Decision.DROPPED
    urgent = merge(_person(prefs), BOTH, Reach(PAYMENTS.channels, urgent=True), now)[1]
    assert urgent.decision == Decision.DELIVERED
    assert urgent.reason == "urgent: quiet hours bypassed"
    assert urgent.address == "U0KENJI1" and urgent.destination_id == SLACK


def test_a_daily_digest_waits_for_its_time_in_the_users_zone() -> None:
    prefs = Preferences(digest="daily 08:30")
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)  # 07:00 in New York
    email, _ = merge(_person(prefs, "America/New_York"), BOTH, PAYMENTS, now)
    assert email.decision == Decision.DIGESTED
    assert email.until == datetime(2026, 12, 3, 13, 30, tzinfo=UTC)
    assert email.until - now == timedelta(hours=1, minutes=30)


def test_opt_outs_medium_off_and_mandatory() -> None:
    prefs = Preferences(slack_enabled=False, channels={"payments": False, "ops": True})
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    email, slack = merge(_person(prefs), BOTH, PAYMENTS, now)
    assert (email.decision, email.reason) == (Decision.OPTED_OUT, "opted out of payments")
    assert (slack.decision, slack.reason) == (Decision.MEDIUM_OFF, "slack is off")
    # One channel of the event still on: delivered.
    both = Reach(frozenset({"payments", "ops"}))
    assert merge(_person(prefs), BOTH, both, now)[0].decision == Decision.DELIVERED
    # Mandatory: the opt-out does not apply, the medium the person turned off still does.
    email, slack = merge(_person(prefs), BOTH, Reach(PAYMENTS.channels, mandatory=True), now)
    assert email.decision == Decision.DELIVERED and slack.decision == Decision.MEDIUM_OFF


def test_mandatory_reaches_someone_who_turned_every_medium_off() -> None:
    prefs = Preferences(email_enabled=False, slack_enabled=False)
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    normal = merge(_person(prefs), BOTH, PAYMENTS, now)
    assert {v.decision for v in normal} == {Decision.MEDIUM_OFF}
    mandatory = merge(_person(prefs), BOTH, Reach(PAYMENTS.channels, mandatory=True), now)
    assert {v.decision for v in mandatory} == {Decision.DELIVERED}


def test_a_medium_the_org_did_not_set_up_or_without_an_address_is_unreachable() -> None:
    now = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    person = _person(Preferences()).model_copy(update={"slack_user": None})
    email, slack = merge(person, Media(None, SLACK), PAYMENTS, now)
    assert email.decision == Decision.UNREACHABLE and "people set --email-via" in email.reason
    assert slack.decision == Decision.UNREACHABLE and "Slack member id" in slack.reason


def test_recipients() -> None:
    assert parse_recipients("all").includes("x@example.com", "viewer")
    mixed = parse_recipients("role:admin, Bob@Example.com")
    assert mixed.spec() == "role:admin,bob@example.com"
    assert mixed.includes("bob@example.com", "viewer")
    assert mixed.includes("carol@example.com", "admin")
    assert not mixed.includes("carol@example.com", "developer")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "--users is empty"),
        ("all,bob@example.com", "give it alone"),
        ("role:owner", "unknown role 'owner'"),
        ("bob", "'bob' in --users is neither an email"),
    ],
)
def test_bad_recipients_say_how_to_write_them(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_recipients(text)
