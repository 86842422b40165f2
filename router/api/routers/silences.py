"""``/v1/silences``: runtime mutes (a CEL filter, a time range or a recurring window, a
comment); events they match are recorded as ``silenced``."""

from __future__ import annotations

from fastapi import APIRouter, Response

from eventrouter.router.api.auth import ControlDep
from eventrouter.router.api.paging import MAX_LIMIT, Cursor, Limit
from eventrouter.router.control.cursor import page_of
from eventrouter.router.models.base import Page
from eventrouter.router.models.rules import Silence, SilenceIn

router = APIRouter(tags=["silences"])


@router.get("/silences", response_model=Page[Silence])
def list_silences(
    control: ControlDep, limit: Limit = 20, cursor: Cursor = None, include_expired: bool = False
) -> Page[Silence]:
    return page_of(
        control.silences.list(include_expired=include_expired),
        lambda s: [s.id],
        limit=limit,
        cursor_token=cursor,
        maximum=MAX_LIMIT,
    )


@router.post("/silences", response_model=Silence, status_code=201)
def add_silence(spec: SilenceIn, control: ControlDep) -> Silence:
    return control.silences.add(spec)


@router.delete("/silences/{silence_id}", status_code=204)
def expire_silence(silence_id: int, control: ControlDep) -> Response:
    """Expire the silence now (it stays listed with ``include_expired``)."""
    control.silences.expire(silence_id)
    return Response(status_code=204)
