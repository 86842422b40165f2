"""``/v1/events``: publish (one or a batch, ``202``), list with delivery counts, show one."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, Field

from eventrouter.router.api.auth import ControlDep
from eventrouter.router.api.paging import Cursor, Limit
from eventrouter.router.errors import ConfigError
from eventrouter.router.events import MAX_IDEMPOTENCY_KEY
from eventrouter.router.models.base import Input, Page
from eventrouter.router.models.history import EventDetail, EventIn, EventSummary

router = APIRouter(tags=["events"])

MAX_BATCH = 1000

IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=MAX_IDEMPOTENCY_KEY,
        description="Same as the body's idempotency_key; in a batch, event i gets KEY:i "
        "unless it has its own.",
    ),
]


class EventBatch(Input):
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


class Published(BaseModel):
    id: str


class PublishedBatch(BaseModel):
    ids: list[str]


@router.post("/events", response_model=Published, status_code=202)
def publish_event(
    spec: EventIn, control: ControlDep, idempotency_key: IdempotencyKey = None
) -> Published:
    """Publish one event; ``202`` once Redis holds it (routers store and deliver it)."""
    if idempotency_key is not None:
        if spec.idempotency_key not in (None, idempotency_key):
            raise ConfigError("the Idempotency-Key header and idempotency_key differ; send one")
        spec = spec.model_copy(update={"idempotency_key": idempotency_key})
    event_id = control.events.publish(
        spec.name, spec.payload, env=spec.env, idempotency_key=spec.idempotency_key
    )
    return Published(id=event_id)


@router.post("/events/batch", response_model=PublishedBatch, status_code=202)
def publish_batch(
    batch: EventBatch, control: ControlDep, idempotency_key: IdempotencyKey = None
) -> PublishedBatch:
    """Publish up to 1,000 events in one Redis round trip; one invalid event publishes none
    (the error names its index)."""
    events = batch.events
    if idempotency_key is not None:
        events = [
            e
            if e.idempotency_key
            else e.model_copy(update={"idempotency_key": f"{idempotency_key}:{i}"})
            for i, e in enumerate(events)
        ]
    return PublishedBatch(ids=control.events.publish_many(events))


@router.get("/events", response_model=Page[EventSummary])
def list_events(
    control: ControlDep,
    name: Annotated[
        str | None,
        Query(max_length=1000, description="RE2 regex matched against whole names, as channels."),
    ] = None,
    env: Annotated[str | None, Query(max_length=100)] = None,
    status: Literal["pending", "succeeded", "failed", "cancelled"] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Limit = 20,
    cursor: Cursor = None,
    show_system: Annotated[
        bool, Query(description="Include system events and test notifications.")
    ] = False,
) -> Page[EventSummary]:
    """Events newest first, with how many of their deliveries stand where."""
    return control.events.history(
        hide_system=not show_system,
        limit=limit,
        cursor_token=cursor,
        name_regex=name,
        env=env,
        status=status,
        since=since,
        until=until,
    )


@router.get("/events/{event_id}", response_model=EventDetail)
def show_event(event_id: str, control: ControlDep) -> EventDetail:
    """The event with its payload, every delivery and every attempt."""
    return control.events.show(event_id)
