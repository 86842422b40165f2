"""One user's notification preferences, and the pure questions asked of them.

Everything defaults to "on, now": a user who never opened their preferences gets every
notification their subscriptions cover, on every medium the org offers, at once. The
fields mirror the API's JSON; validation errors name the field (pydantic's ``loc``), so the
API answers 422 with it and the CLI prints it on one line.

Quiet hours and digests are evaluated in the user's time zone (``users.timezone``; UTC when
unset) with ``rules/windows.py``, the same reading of wall-clock windows the subscription
rules use. How these combine with a subscription (mandatory, urgent) is the router's merge.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from eventrouter.router.models.base import Model
from eventrouter.router.models.rules import QuietMode
from eventrouter.router.rules import windows

EMAIL = re.compile(r"[^@\s\x00-\x1f]+@[^@\s\x00-\x1f]+\.[^@\s.\x00-\x1f]+")
SLACK_USER = re.compile(r"[UW][A-Z0-9]{2,20}")
SLACK_CHANNEL = re.compile(r"[CGD][A-Z0-9]{2,20}")
_DAILY = re.compile(r"daily ([01]\d|2[0-3]):([0-5]\d)")
MAX_CHANNELS = 500
MAX_ADDRESS = 254
MAX_CHANNEL_NAME = 200


def _channels(value: dict[str, bool]) -> dict[str, bool]:
    if len(value) > MAX_CHANNELS:
        raise ValueError(f"at most {MAX_CHANNELS} channels")
    for name in value:
        if not 0 < len(name) <= MAX_CHANNEL_NAME or any(ch < " " for ch in name):
            raise ValueError(f"{name!r} is not a channel name")
    return value


def _email_address(value: str) -> str:
    if len(value) > MAX_ADDRESS or not EMAIL.fullmatch(value):
        raise ValueError(f"{value!r} is not an email address (name@example.com)")
    return value


def _slack_target(value: str) -> str:
    if not (SLACK_USER.fullmatch(value) or SLACK_CHANNEL.fullmatch(value)):
        raise ValueError(
            f"{value!r} is not a Slack member id (U0123ABCD) or channel id (C0123ABCD)"
        )
    return value


def _digest(value: str) -> str:
    value = " ".join(value.split()).lower()
    if value not in ("immediate", "hourly") and not _DAILY.fullmatch(value):
        raise ValueError(f"{value!r}: use immediate, hourly or 'daily HH:MM' (daily 08:30)")
    return value


def _timezone(value: str) -> str:
    windows.load_zone(value)
    return value


Channels = Annotated[dict[str, bool], AfterValidator(_channels)]
EmailAddress = Annotated[str, AfterValidator(_email_address)]
SlackTarget = Annotated[str, AfterValidator(_slack_target)]
Digest = Annotated[str, AfterValidator(_digest)]
TimeZone = Annotated[str, AfterValidator(_timezone)]


class Medium(StrEnum):
    """How a person is reached; the org names one destination per medium."""

    EMAIL = "email"
    """Mail to their address, through the org's email destination."""
    SLACK = "slack"
    """A DM or a channel message, through the org's Slack bot destination."""


class QuietHours(BaseModel):
    """``window`` (``22:00-07:00``, may cross midnight) on ``days`` (``mon-fri``; every day
    when unset), in the user's time zone. ``hold`` keeps notifications until the window
    ends, ``drop`` discards them (recorded, never sent)."""

    model_config = ConfigDict(extra="forbid")

    window: str
    days: str | None = None
    mode: QuietMode = QuietMode.HOLD

    @field_validator("window")
    @classmethod
    def _window(cls, value: str) -> str:
        windows.parse_window(value, "UTC")  # raises ValueError with the way to fix it
        return value.strip()

    @field_validator("days")
    @classmethod
    def _days(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        windows.parse_days(value)
        return value.strip().lower()

    def in_zone(self, zone: str | None) -> windows.Window:
        return windows.parse_window(self.window, zone or "UTC", self.days)


class PreferenceFields(BaseModel):
    """Every preference, declared once: ``Preferences`` holds them all, ``PreferencesChange``
    takes the same fields (same types, same checks) for a partial update."""

    model_config = ConfigDict(extra="forbid")

    email_enabled: bool = True
    slack_enabled: bool = True
    channels: Channels = Field(default_factory=dict)
    """Channel name → on/off; a channel not named is on."""
    email_address: EmailAddress | None = None
    slack_target: SlackTarget | None = None
    """A Slack member id (``U…``, a DM) or channel id (``C…``)."""
    quiet_hours: QuietHours | None = None
    digest: Digest = "immediate"
    """``immediate``, ``hourly`` or ``daily HH:MM`` (in the user's time zone)."""


class Preferences(PreferenceFields):
    """What one user chose. ``None`` overrides mean the defaults: the login email, and the
    user's ``slack_user`` (a DM) or else their ``slack_channel``."""

    def medium_enabled(self, medium: Medium) -> bool:
        return self.email_enabled if medium is Medium.EMAIL else self.slack_enabled

    def channel_enabled(self, channel: str) -> bool:
        return self.channels.get(channel, True)

    def updated(self, change: PreferencesChange) -> Preferences:
        """These preferences with ``change`` applied: only the fields it sets; ``channels``
        are merged name by name (one toggle leaves the others as they were)."""
        fields = change.model_dump(exclude_unset=True, exclude={"timezone"})
        if "channels" in fields:
            fields["channels"] = {**self.channels, **change.channels}
        return Preferences.model_validate({**self.model_dump(), **fields})


class PreferencesChange(PreferenceFields):
    """A partial update: the fields sent change, the others stay. ``null`` resets an override
    (``email_address``, ``slack_target``), removes the quiet hours, or sets ``timezone`` back to
    UTC. ``timezone`` is the user's own (``users.timezone``), the zone quiet hours and daily
    digests are read in."""

    # The inherited defaults are never applied: only the fields sent (``model_fields_set``) are.
    timezone: TimeZone | None = None


class UserPreferences(Model):
    """A user, the contact details the router needs, and their preferences."""

    user_id: int
    email: str
    name: str = ""
    role: str = "viewer"
    timezone: str | None = None
    slack_user: str | None = None
    slack_channel: str | None = None
    preferences: Preferences = Field(default_factory=Preferences)
    updated_at: datetime | None = None
    """When they were last saved; ``None``: never (the defaults)."""

    def address(self, medium: Medium) -> str | None:
        """Where ``medium`` reaches this user: the override, else the defaults (the login
        email; the Slack member id for a DM, else their Slack channel). ``None``: nowhere."""
        prefs = self.preferences
        if medium is Medium.EMAIL:
            return prefs.email_address or self.email
        return prefs.slack_target or self.slack_user or self.slack_channel


class PersonTestIn(BaseModel):
    """``POST /v1/me/test``: which medium to try."""

    model_config = ConfigDict(extra="forbid")

    medium: Medium


class PersonTest(Model):
    """What a test sent to one person did."""

    success: bool
    message: str
    """What happened, in one line."""
    medium: Medium
    address: str
    """Where it went: their address, Slack member id or channel."""
    destination: str
    """The org's destination for the medium (``people set``)."""
    event_id: str
    delivery_id: int


def first_error(exc: ValidationError) -> str:
    """The first problem of a refused change on one line, starting with the field's path
    (``quiet_hours.window: bad hours …``): what the CLI and the dashboard show."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"])
    return f"{where}: {error['msg'].removeprefix('Value error, ')}"


def quiet_until(prefs: Preferences, timezone: str | None, at: datetime) -> datetime | None:
    """When the user's quiet hours that contain ``at`` end (UTC), or ``None`` if ``at`` is
    not inside them. A user whose stored zone became unknown is read in UTC."""
    if prefs.quiet_hours is None:
        return None
    try:
        window = prefs.quiet_hours.in_zone(timezone)
    except ValueError:
        window = prefs.quiet_hours.in_zone(None)
    return windows.window_end(window, at)


def next_digest_at(prefs: Preferences, timezone: str | None, at: datetime) -> datetime | None:
    """When the digest that ``at`` falls into is sent (UTC): the next full hour for
    ``hourly``, the next ``HH:MM`` in the user's zone for ``daily``; ``None`` for
    ``immediate``."""
    if prefs.digest == "immediate":
        return None
    at = at.astimezone(UTC)
    if prefs.digest == "hourly":
        return at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    match = _DAILY.fullmatch(prefs.digest)
    assert match is not None  # validated
    try:
        zone = windows.load_zone(timezone or "UTC")
    except ValueError:
        zone = windows.load_zone("UTC")
    local = at.astimezone(zone)
    wall = time(int(match[1]), int(match[2]))
    for day in (local.date(), local.date() + timedelta(days=1), local.date() + timedelta(days=2)):
        candidate = datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)
        if candidate > at:
            return candidate
    raise AssertionError("a daily time always comes within two days")  # pragma: no cover
