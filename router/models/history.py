"""Events and the delivery log: what was published, and what became of each delivery."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from eventrouter.router.models.base import Input, Model
from eventrouter.router.models.rules import Decision


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


class EventIn(Input):
    """One event to publish, as ``publish()`` takes it (the org is the caller's)."""

    name: str
    payload: dict[str, Any] | None = None
    env: str | None = None
    idempotency_key: str | None = None
    """An event whose key was already seen in the org is stored as a duplicate of the first
    and not delivered again: retry a publish whose answer was lost with the same key."""


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
