"""The control plane's vocabulary: typed inputs and results shared by storage, services and
the adapters (CLI, HTTP API, dashboard), so all of them say the same thing the same way.

Pure pydantic models: no I/O, no imports from the rest of eventrouter. Secrets inside a
``Destination.config`` are already masked (``…last4``) when a service hands one out.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Model(BaseModel):
    """A result: built from rows, so columns it does not name are ignored."""

    model_config = ConfigDict(extra="ignore", from_attributes=True)


class Input(BaseModel):
    """What a caller sends: an unknown field is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class DeliveryStatus(StrEnum):
    """Where a delivery stands; the values are ``deliveries.status``."""

    PENDING = "pending"
    """Waiting for its first attempt or for a retry (``next_attempt_at``)."""
    DELIVERING = "delivering"
    """A worker holds it (a lease) and is sending it now."""
    SUCCEEDED = "succeeded"
    """The destination accepted it. Final."""
    FAILED = "failed"
    """A permanent error, or every attempt of the retry schedule failed. Final until retried."""
    CANCELLED = "cancelled"
    """Stopped before it ended: its destination was disabled or removed. Final until retried."""


# -- configuration ----------------------------------------------------------------------
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


# -- events ----------------------------------------------------------------------------
class EventIn(Input):
    """One event to publish, as ``publish()`` takes it (the org is the caller's)."""

    name: str
    payload: dict[str, Any] | None = None
    env: str | None = None
    idempotency_key: str | None = None
    """An event whose key was already seen in the org is stored as a duplicate of the first
    and not delivered again: retry a publish whose answer was lost with the same key."""


# -- the delivery log -------------------------------------------------------------------
class EventSummary(Model):
    id: str
    name: str
    org: str
    env: str | None
    received_at: datetime
    total: int
    succeeded: int
    pending: int
    failed: int
    cancelled: int
    duplicate_of: str | None = None


class Attempt(Model):
    attempt_number: int
    started_at: datetime
    duration_ms: int
    outcome: str
    http_status: int | None
    error: str | None
    response_body: str | None


class EventDelivery(Model):
    id: int
    destination: str | None
    """``None`` when the destination was removed."""
    type: str | None
    subscription: str | None
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    attempts: list[Attempt] = Field(default_factory=list)


class DeliveryDetail(EventDelivery):
    """One delivery with its event's id, name and environment, and every attempt."""

    event_id: str
    event: str
    env: str | None


class EventDecision(Model):
    """What one subscription's rules decided for the event, and why; for a subscription
    with people, also what each person's preferences decided (``recipient``)."""

    subscription: str | None
    """``None`` when the subscription was removed since."""
    subscription_id: int
    recipient: str | None = None
    """``user:<email>/<medium>`` for a person's decision; ``None`` for the subscription's."""
    decision: Decision
    reason: str = ""
    until: datetime | None = None
    """Held until (quiet hours end), or the time its group is released."""
    digest_id: int | None = None
    """The digest (group or hold) the event was collected into."""
    digest_deliveries: list[int] = Field(default_factory=list)
    """The deliveries that carried that digest, once it was released."""
    silence_id: int | None = None


class EventDetail(Model):
    id: str
    name: str
    org: str
    env: str | None
    payload: dict[str, Any]
    idempotency_key: str | None
    duplicate_of: str | None
    published_at: datetime | None
    received_at: datetime
    deliveries: list[EventDelivery] = Field(default_factory=list)
    decisions: list[EventDecision] = Field(default_factory=list)


class DeliveryLogEntry(Model):
    id: int
    event_id: str
    event: str
    """The event's name."""
    env: str | None
    destination: str | None
    status: DeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    last_error: str | None
    updated_at: datetime


class Page(BaseModel, Generic[T]):
    """One page of a list, newest first; pass ``next_cursor`` back for the next one."""

    items: list[T]
    next_cursor: str | None = None


# -- people and tokens ------------------------------------------------------------------
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


# -- the overview -----------------------------------------------------------------------
class MinuteCount(Model):
    """Attempts that ended in one minute: accepted by the destination, or not."""

    minute: datetime
    succeeded: int
    failed: int


class Backlog(Model):
    """What waits, and where: unrouted events, queued tasks, deliveries due or leased."""

    stream: int | None
    """Events in the Redis stream not yet routed (all orgs); ``None``: Redis unreachable."""
    queue: int | None
    """Delivery tasks waiting in the Celery queue (all orgs); ``None``: not a Redis broker,
    or unreachable."""
    pending: int
    """The org's deliveries waiting for an attempt."""
    delivering: int
    """The org's deliveries a worker holds now."""
    oldest_due: datetime | None
    """When the longest-waiting pending delivery became due."""


class DestinationHealth(Model):
    name: str
    type: str
    enabled: bool
    disabled_reason: str | None
    attempts: int
    """Attempts in the window."""
    succeeded: int
    p95_ms: float | None
    last_error: str | None
    """The newest error in the window."""
    last_error_at: datetime | None

    @property
    def success_rate(self) -> float | None:
        return self.succeeded / self.attempts if self.attempts else None


class Overview(Model):
    since: datetime
    """Start of the window (an hour ago)."""
    minutes: list[MinuteCount]
    backlog: Backlog
    destinations: list[DestinationHealth]


class KeptWeek(Model):
    """A week retention left whole: some of its deliveries are still pending or delivering."""

    week: date
    """Its Monday."""
    open_deliveries: int


class PruneResult(Model):
    """What ``db prune`` dropped (or, with ``dry_run``, would drop) and what it kept."""

    older_than: str
    cutoff: datetime
    dry_run: bool
    dropped: list[date]
    """Weeks (their Mondays) whose events, deliveries and attempts were dropped."""
    kept: list[KeptWeek]
    busy: list[date]
    """Weeks whose tables were too busy to take the lock in time; the next prune retries."""
    freed_bytes: int
    stray_events: int
    """Events deleted from the default partitions (ids outside every week partition)."""
