"""History: events newest first with their delivery counts, one event in full with every
attempt, the delivery log across events, and retrying what failed."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from eventrouter.router.dashboard.web import SignedIn, local_time, redirect
from eventrouter.router.durations import parse_duration
from eventrouter.router.errors import ConfigError
from eventrouter.router.models.history import DeliveryStatus

router = APIRouter()
PAGE_SIZE = 50


def _next_url(request: Request, cursor: str | None) -> str | None:
    if cursor is None:
        return None
    query = {k: v for k, v in request.query_params.items() if k != "cursor" and v}
    return f"{request.url.path}?{urlencode({**query, 'cursor': cursor})}"


@router.get("/events")
def events(
    page: SignedIn,
    request: Request,
    name: str = "",
    env: str = "",
    status: str = "",
    start: str = "",
    end: str = "",
    tz: str = "",
    cursor: str | None = None,
) -> Response:
    zone = page.session.timezone or tz
    found = page.control.events.history(
        limit=PAGE_SIZE,
        cursor_token=cursor,
        name_regex=name or None,
        env=env or None,
        status=status or None,
        since=local_time(start, zone, "From"),
        until=local_time(end, zone, "To"),
    )
    return page.render(
        "events.html",
        events=found.items,
        next_url=_next_url(request, found.next_cursor),
        filters={"name": name, "env": env, "status": status, "start": start, "end": end},
        statuses=("pending", "succeeded", "failed", "cancelled"),
        refresh=any(event.pending for event in found.items),
        first_page=cursor is None,
        filtered=any((name, env, status, start, end, cursor)),
    )


@router.get("/events/{event_id}")
def event_detail(page: SignedIn, event_id: str) -> Response:
    event = page.control.events.show(event_id)
    open_ = {DeliveryStatus.PENDING, DeliveryStatus.DELIVERING}
    return page.render(
        "event.html",
        event=event,
        refresh=any(delivery.status in open_ for delivery in event.deliveries),
    )


@router.post("/deliveries/{delivery_id}/retry")
def retry(page: SignedIn, delivery_id: int, back: Annotated[str, Form()] = "") -> Response:
    page.control.deliveries.retry([delivery_id])
    return redirect(back if back.startswith("/") and not back.startswith("//") else "/deliveries")


@router.get("/deliveries")
def deliveries(
    page: SignedIn,
    request: Request,
    status: str = "",
    destination: str = "",
    cursor: str | None = None,
) -> Response:
    found = page.control.deliveries.list(
        limit=PAGE_SIZE,
        cursor_token=cursor,
        status=status or None,
        destination=destination or None,
    )
    return page.render(
        "deliveries.html",
        deliveries=found.items,
        next_url=_next_url(request, found.next_cursor),
        filters={"status": status, "destination": destination},
        statuses=[s.value for s in DeliveryStatus],
        destinations=page.control.destinations.list(),
        retried=request.query_params.get("retried"),
    )


@router.post("/deliveries/retry-failed")
def retry_failed(
    page: SignedIn,
    destination: Annotated[str, Form()] = "",
    since: Annotated[str, Form()] = "",
) -> Response:
    try:
        since_seconds = parse_duration(since) if since else None
    except ValueError as exc:
        raise ConfigError(f"since: {exc}") from None
    retried = page.control.deliveries.retry_failed(
        destination=destination or None, since_seconds=since_seconds
    )
    query = urlencode({"retried": len(retried), "destination": destination})
    return redirect(f"/deliveries?{query}")
