"""A subscription's rules, the decisions they record, and silences (runtime mutes)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import Field

from eventrouter.router.models.base import Input, Model


class NotifyMode(StrEnum):
    """When a subscription with rules notifies."""

    ALWAYS = "always"
    """Every event that passes the filter."""
    ON_CHANGE = "on-change"
    """When the filter's result for a key turns true (and, with ``resolve``, false again)."""


class QuietMode(StrEnum):
    """What happens to an event during quiet hours."""

    HOLD = "hold"
    """Kept, and sent as one digest when the quiet hours end."""
    DROP = "drop"
    """Recorded as dropped, never sent."""


class Decision(StrEnum):
    """What a subscription's rules did with one event; the values are ``decisions.decision``."""

    DELIVERED = "delivered"
    """Sent now (one delivery per destination)."""
    FILTERED = "filtered"
    """The filter was false."""
    UNCHANGED = "unchanged"
    """On-change: the key's state did not change (still firing, or not yet --for matches)."""
    GROUPED = "grouped"
    """Collected into a digest (``digest_id``) sent when its group wait ends."""
    THROTTLED = "throttled"
    """Within the repeat interval of the key's last notification."""
    HELD = "held"
    """Quiet hours: kept until ``until``, then sent in one digest."""
    DROPPED = "dropped"
    """Quiet hours with --quiet-mode drop."""
    SILENCED = "silenced"
    """Muted by a silence (``silence_id``)."""
    FILTER_ERROR = "filter_error"
    """An expression failed on this event (``reason``); counted as no match."""
    OPTED_OUT = "opted_out"
    """A person: they turned off every channel of the event (and it is not mandatory)."""
    MEDIUM_OFF = "medium_off"
    """A person: they turned this medium off."""
    UNREACHABLE = "unreachable"
    """A person: no address for the medium, or the org has no destination for it."""
    DIGESTED = "digested"
    """A person: kept for their hourly or daily digest, sent at ``until``."""


class Rules(Input):
    """Whether and when a subscription delivers a matching event (all optional).

    Expressions are CEL over ``name``, ``org``, ``env``, ``payload``, ``received_at``;
    durations are written like ``30s``, ``5m``, ``4h``.
    """

    filter: str | None = None
    """Deliver only events for which this is true."""
    notify: NotifyMode = NotifyMode.ALWAYS
    key: str | None = None
    """What on-change state and throttling are kept per (e.g. ``payload.experiment``)."""
    resolve: bool = False
    """With on-change: also notify when the filter turns false again."""
    for_count: int = Field(default=1, ge=1, le=1000)
    """With on-change: fire only after this many consecutive matches."""
    group_by: str | None = None
    """Collect events with the same value of this into one digest."""
    group_wait: str | None = None
    """How long a group collects before it is sent."""
    repeat_interval: str | None = None
    """After a notification for a key, throttle the key's events for this long."""
    quiet_hours: str | None = None
    """``HH:MM-HH:MM`` in ``timezone``; may cross midnight."""
    quiet_days: str | None = None
    """Days the quiet hours start on (``sat,sun``, ``mon-fri``); every day when unset."""
    timezone: str | None = None
    quiet_mode: QuietMode = QuietMode.HOLD
    urgent: str | None = None
    """Events for which this is true bypass quiet hours."""

    def is_empty(self) -> bool:
        return self == Rules()


class SilenceIn(Input):
    """A runtime mute: events matching ``filter`` (and ``channel``) are recorded as
    ``silenced`` instead of delivered, from ``starts_at`` (now) until ``ends_at``, or
    during a recurring window (``every`` in ``timezone``)."""

    filter: str
    """CEL over name, org, env, payload, received_at (``true`` mutes everything)."""
    comment: str
    """Why: shown in every decision the silence makes."""
    channel: str | None = None
    """Only events that match this channel."""
    duration: str | None = None
    """How long from now (``2h``); or give ``ends_at``."""
    ends_at: datetime | None = None
    every: str | None = None
    """A recurring window, e.g. ``sat,sun 00:00-24:00`` (needs ``timezone``)."""
    timezone: str | None = None


class Silence(Model):
    id: int
    filter: str
    comment: str
    channel: str | None = None
    starts_at: datetime
    ends_at: datetime | None = None
    every: str | None = None
    timezone: str | None = None
    created_by: str = ""
    created_at: datetime
    expired_at: datetime | None = None
    active: bool
    """Not expired and within its time range (a recurring one may be between windows)."""
