"""People and tokens: users, the org's destinations for people's notifications, API tokens."""

from __future__ import annotations

from datetime import datetime

from eventrouter.router.models.base import Input, Model


class UserIn(Input):
    email: str
    role: str
    """``viewer``, ``developer`` or ``admin``."""
    name: str = ""
    timezone: str | None = None
    """An IANA zone such as ``Europe/Paris``; UTC when unset."""
    slack_user: str | None = None
    """Their Slack member id (``U0123ABCD``): notifications for them arrive as DMs."""
    slack_channel: str | None = None
    """Or a Slack channel id (``C0123ABCD``) their notifications are posted to."""


class UserUpdate(Input):
    """A change to a user: only the fields sent change; ``null`` clears an optional one."""

    role: str | None = None
    name: str | None = None
    timezone: str | None = None
    slack_user: str | None = None
    slack_channel: str | None = None


class PeopleSettingsIn(Input):
    """The org's destinations for people's notifications; only the media given change
    (``None`` given explicitly turns the medium off for everyone)."""

    email_via: str | None = None
    """An email destination: it sends to each person's address instead of its ``to``."""
    slack_via: str | None = None
    """A Slack destination with a bot token: it posts to each person's DM or channel."""


class PeopleSettings(Model):
    email_via: str | None = None
    slack_via: str | None = None


class User(Model):
    id: int
    org: str
    email: str
    name: str
    role: str
    timezone: str | None
    slack_user: str | None = None
    slack_channel: str | None = None
    created_at: datetime


class TokenIn(Input):
    """A token for a user (acting with the user's role) or for a service (with ``role``)."""

    user: str | None = None
    """The user's email."""
    service: str | None = None
    """A service's name, for producers and scripts that act for no person."""
    role: str | None = None
    """A service token's role (``developer`` unless given); a user token takes the user's."""
    name: str = ""
    """A label to recognise it by in listings."""
    expires_in: str | None = "90d"
    """How long it is valid, e.g. ``30d`` or ``12h``; ``never`` for no expiry."""


class Token(Model):
    id: int
    org: str
    prefix: str
    """The token's first characters (``er_`` and its public id): enough to recognise it,
    useless to authenticate."""
    name: str
    user: str | None
    """The user's email (``None`` for a service token)."""
    service: str | None
    role: str
    """The role it acts with now (a user token follows the user's role)."""
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenCreated(Token):
    token: str
    """The bearer token itself: shown in this answer only, never stored or shown again."""
