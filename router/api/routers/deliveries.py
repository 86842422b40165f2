"""``/v1/deliveries``: the delivery log across events, one delivery with its attempts, and
sending failed ones again."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from eventrouter.router.api.auth import ControlDep
from eventrouter.router.api.paging import Cursor, Limit
from eventrouter.router.durations import parse_duration
from eventrouter.router.errors import ConfigError
from eventrouter.router.models.base import Input, Page
from eventrouter.router.models.history import DeliveryDetail, DeliveryLogEntry, DeliveryStatus

router = APIRouter(tags=["deliveries"])

DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1)]


class RetryRequest(Input):
    """Which deliveries to send again: failed and cancelled ones, optionally narrowed."""

    status: Literal["failed", "cancelled"] | None = None
    destination: str | None = None
    since: str | None = None
    """Only those that ended within this long, e.g. ``1h``."""


class Retried(BaseModel):
    retried: int


@router.get("/deliveries", response_model=Page[DeliveryLogEntry])
def list_deliveries(
    control: ControlDep,
    status: DeliveryStatus | None = None,
    destination: Annotated[str | None, Query(max_length=100)] = None,
    event_name: Annotated[str | None, Query(max_length=200)] = None,
    since: datetime | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[DeliveryLogEntry]:
    """Deliveries newest first; ``since`` compares with when each last changed."""
    return control.deliveries.list(
        limit=limit,
        cursor_token=cursor,
        status=status.value if status else None,
        destination=destination,
        event_name=event_name,
        since=since,
    )


@router.get("/deliveries/{delivery_id}", response_model=DeliveryDetail)
def show_delivery(delivery_id: DeliveryId, control: ControlDep) -> DeliveryDetail:
    """One delivery with every attempt (time, duration, outcome, HTTP status, error, body)."""
    return control.deliveries.show(delivery_id)


@router.post("/deliveries/retry", response_model=Retried)
def retry_many(request: RetryRequest, control: ControlDep) -> Retried:
    """Put failed (and cancelled) deliveries back in line; the scheduler sends them."""
    since = None
    if request.since is not None:
        try:
            since = parse_duration(request.since)
        except ValueError as exc:
            raise ConfigError(f"since: {exc}") from None
    ids = control.deliveries.retry_failed(
        destination=request.destination, since_seconds=since, status=request.status
    )
    return Retried(retried=len(ids))


@router.post("/deliveries/{delivery_id}/retry", response_model=Retried)
def retry_one(delivery_id: DeliveryId, control: ControlDep) -> Retried:
    """Send one failed or cancelled delivery again."""
    return Retried(retried=len(control.deliveries.retry([delivery_id])))
