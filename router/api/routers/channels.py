"""``/v1/channels``: named RE2 patterns over event names (system channels read-only)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from eventrouter.router.api.auth import ControlDep
from eventrouter.router.api.paging import MAX_LIMIT, Cursor, Limit
from eventrouter.router.control.cursor import page_of
from eventrouter.router.models.base import Page
from eventrouter.router.models.configuration import Channel, ChannelIn, ChannelUpdate

router = APIRouter(tags=["channels"])


@router.get("/channels", response_model=Page[Channel])
def list_channels(control: ControlDep, limit: Limit = 20, cursor: Cursor = None) -> Page[Channel]:
    """The org's channels, the built-in system channels first."""
    return page_of(
        control.channels.list(),
        lambda c: [0 if c.is_system else 1, c.name],
        limit=limit,
        cursor_token=cursor,
        maximum=MAX_LIMIT,
    )


@router.post("/channels", response_model=Channel, status_code=201)
def add_channel(spec: ChannelIn, control: ControlDep) -> Channel:
    return control.channels.add(spec)


@router.get("/channels/{name}", response_model=Channel)
def get_channel(name: str, control: ControlDep) -> Channel:
    return control.channels.get(name)


@router.patch("/channels/{name}", response_model=Channel)
def update_channel(name: str, change: ChannelUpdate, control: ControlDep) -> Channel:
    """Change a channel in place (only the fields given); routers follow within seconds."""
    return control.channels.update(name, change)


@router.delete("/channels/{name}", status_code=204)
def remove_channel(name: str, control: ControlDep) -> Response:
    """Remove a channel no subscription uses."""
    control.channels.remove(name)
    return Response(status_code=204)
