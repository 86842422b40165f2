"""``POST /v1/slack/interactions`` and ``POST /v1/slack/commands``: Slack's requests.

No bearer token: Slack signs each request with the app's signing secret, and the service
(``control.slack``) verifies that before reading anything; a bad signature or a timestamp
more than 5 minutes off is a 401 and nothing is recorded. Slack wants an answer within 3
seconds: the click is recorded and its event queued in one short transaction, the answer
goes out, and only then are the ephemeral notes sent (the message updates are the routers'
work, durable in Postgres).
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, BackgroundTasks, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from eventrouter.router.api.state import app_state
from eventrouter.router.control.slack import Notice, SlackRequests, Verified
from eventrouter.router.destinations import SendContext
from eventrouter.router.destinations.context import make_send_context
from eventrouter.router.destinations.slack_requests import BadRequest
from eventrouter.router.errors import Unauthorized

router = APIRouter(prefix="/slack", tags=["slack"])
SIGNED = {
    "description": "Signed by Slack: `X-Slack-Signature` (`v0=` HMAC-SHA256 of "
    "`v0:{timestamp}:{body}` with the app's signing secret) and `X-Slack-Request-Timestamp` "
    "(within 5 minutes). Form-encoded, as Slack sends it.",
}


def _service(request: Request) -> SlackRequests:
    state = app_state(request)
    return SlackRequests(state.engine, state.settings)


def _send_context(request: Request) -> SendContext:
    """One HTTP client per process for the ephemeral notes, made on first use."""
    ctx: SendContext | None = getattr(request.app.state, "slack_send_context", None)
    if ctx is None:
        ctx = make_send_context(app_state(request).settings)
        request.app.state.slack_send_context = ctx
    return ctx


async def _verified(request: Request, service: SlackRequests) -> tuple[Verified, bytes]:
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:
        verified = await run_in_threadpool(service.verify, headers, body)
    except BadRequest as exc:
        raise Unauthorized(f"not a genuine Slack request: {exc}") from None
    return verified, body


@router.post(
    "/interactions",
    status_code=HTTPStatus.OK,
    summary="Button clicks from Slack (approve, reject, acknowledge)",
    openapi_extra={"x-authentication": SIGNED["description"]},
)
async def interactions(request: Request, background: BackgroundTasks) -> Response:
    """Record each click, publish its event (`approval:approved`, `approval:rejected`,
    `alert:acknowledged`), answer at once; notes to the clicker follow."""
    service = _service(request)
    verified, body = await _verified(request, service)
    try:
        notices: Sequence[Notice] = await run_in_threadpool(
            service.handle_interaction, verified, body
        )
    except BadRequest as exc:
        raise HTTPException(HTTPStatus.BAD_REQUEST, str(exc)) from None
    if notices:
        background.add_task(service.send_notices, _send_context(request), notices)
    return Response(status_code=HTTPStatus.OK)


@router.post(
    "/commands",
    summary="Slash commands from Slack: /eventrouter ack|resolve|status EVENT_ID",
    openapi_extra={"x-authentication": SIGNED["description"]},
)
async def commands(request: Request) -> dict[str, Any]:
    """Run the command; the answer is shown only to the person who typed it."""
    service = _service(request)
    verified, body = await _verified(request, service)
    try:
        answer = await run_in_threadpool(service.handle_command, verified, body)
    except BadRequest as exc:
        raise HTTPException(HTTPStatus.BAD_REQUEST, str(exc)) from None
    return {"response_type": "ephemeral", "text": answer}
