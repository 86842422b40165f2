"""Channels, destinations and subscriptions: what a caller sends to configure them and what
a service hands back."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from eventrouter.router.models.base import Input, Model
from eventrouter.router.models.history import DeliveryStatus
from eventrouter.router.models.rules import Rules


class ChannelIn(Input):
    name: str
    pattern: str
    """RE2 regex matched against the whole event name."""
    env: str | None = None
    description: str = ""


class ChannelUpdate(Input):
    """What to change in a channel; only the fields given change (``env=None`` given
    explicitly means every environment)."""

    pattern: str | None = None
    env: str | None = None
    description: str | None = None


class PatternTest(Model):
    """Which event names a pattern matches, the way the router matches them."""

    pattern: str
    error: str | None = None
    """Why the pattern is refused (then nothing matches)."""
    matches: dict[str, bool] = Field(default_factory=dict)


class Channel(Model):
    name: str
    pattern: str
    env: str | None = None
    description: str = ""
    id: int
    is_system: bool
    """Built in (``delivery:failed``, ``destination:disabled``): read-only, every org sees it."""
    created_at: datetime
    subscriptions: list[str] = Field(default_factory=list)


class DestinationIn(Input):
    name: str
    type: str
    """``webhook``, ``slack``, ``pagerduty`` or ``email``."""
    config: dict[str, Any]
    """The kind's config (see each kind's config model)."""
    retry_schedule: str | None = None
    """Delays between attempts, e.g. ``10s,1m,10m``; the server's default when unset."""
    generate_secret: bool = False
    """Make a signing secret (kinds that sign: webhook); it is returned once, on creation."""


class DestinationUpdate(Input):
    """What to change in a destination; only the fields given change. ``config`` is merged
    into the stored config key by key (nested objects too); a key set to ``None`` is removed.
    ``retry_schedule=None`` given explicitly returns to the server's default schedule."""

    config: dict[str, Any] = Field(default_factory=dict)
    retry_schedule: str | None = None


class Destination(Model):
    id: int
    name: str
    type: str
    config: dict[str, Any]
    """Secrets masked."""
    target: str
    """Where it sends, in one line."""
    enabled: bool
    disabled_reason: str | None = None
    retry_schedule: str | None = None
    """``None``: the server's default schedule."""
    created_at: datetime
    signing_secret: str | None = None
    """Only in the answer that created it with ``generate_secret``: shown once."""


class SecretRotation(Model):
    name: str
    secret: str
    """The new signing secret, shown once."""
    previous_valid_until: datetime | None
    """Until when the previous secret co-signs (``None``: it no longer signs)."""


class TestResult(Model):
    __test__ = False  # not a pytest class

    destination: str
    event_id: str
    delivery_id: int
    succeeded: bool
    status: DeliveryStatus
    outcome: str | None
    """``succeeded``, ``retry`` or ``failed``; ``None`` when the rate limit held it back."""
    http_status: int | None
    error: str | None
    response_body: str | None
    duration_ms: int | None
    next_attempt_at: datetime | None
    """Set when the rate limit held it back: a worker sends it then."""


class SubscriptionIn(Input):
    name: str
    channels: list[str]
    destinations: list[str]
    env: str | None = None
    """Only events of this environment; all environments when unset."""
    rules: Rules | None = None
    users: str | None = None
    """People it notifies besides its destinations: ``all``, ``role:admin`` or
    ``a@example.com,b@example.com`` (mixed with commas), each as their preferences say."""
    mandatory: bool = False
    """Its people's channel opt-outs do not apply (security incidents)."""


class SubscriptionUpdate(Input):
    """What to change in a subscription; only the fields given change. ``channels`` /
    ``destinations`` replace the lists; ``add_*`` / ``remove_*`` edit them."""

    env: str | None = None
    channels: list[str] | None = None
    destinations: list[str] | None = None
    add_channels: list[str] = Field(default_factory=list)
    remove_channels: list[str] = Field(default_factory=list)
    add_destinations: list[str] = Field(default_factory=list)
    remove_destinations: list[str] = Field(default_factory=list)
    rules: dict[str, Any] | None = None
    """Rule fields to change, merged over the current rules (a JSON merge patch: a field
    set to null returns to its default); ``{}`` with ``clear_rules`` removes them all."""
    clear_rules: bool = False
    users: str | None = None
    """Replace the people it notifies; ``None`` given explicitly notifies no one."""
    mandatory: bool | None = None


class Subscription(Model):
    name: str
    channels: list[str]
    destinations: list[str]
    env: str | None = None
    id: int
    enabled: bool
    created_at: datetime
    rules: Rules | None = None
    users: str | None = None
    mandatory: bool = False
