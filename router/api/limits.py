"""Request bodies are limited before they are parsed: a pure ASGI middleware refuses a body
over its endpoint's limit from ``Content-Length`` alone, or as soon as the streamed bytes
pass it, so a client cannot make a process buffer or parse more than the limit."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventrouter.router.api.problems import MEDIA_TYPE, Problem
from eventrouter.router.events import MAX_PAYLOAD_BYTES

MiB = 1024 * 1024
DEFAULT_LIMIT = MiB
"""Any endpoint not named below: configuration objects are small."""
LIMITS: Mapping[str, int] = {
    # One event: its payload may be 256 KiB encoded; JSON escapes in the request can make
    # it longer on the wire, so the body gets twice that. publish() checks the payload.
    "/v1/events": 2 * MAX_PAYLOAD_BYTES,
    "/v1/events/batch": 5 * MiB,
}


def _too_large_detail(limit: int) -> str:
    return f"request body over {limit} bytes, the limit of this endpoint; send less"


class _TooLarge(HTTPException):
    """Raised while the body streams in; an HTTPException, so FastAPI's body reading passes
    it on as it is (it turns other errors into a 400) and the problem handler answers 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, _too_large_detail(limit))


class BodyLimit:
    """Refuse bodies over ``limit_for(path)`` bytes with a 413 problem."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int] | None = None) -> None:
        self.app = app
        self.limit_for = limit_for or (lambda path: LIMITS.get(path, DEFAULT_LIMIT))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._refuse(send, limit)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send, limit)

    @staticmethod
    async def _refuse(send: Send, limit: int) -> None:
        status = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
        body = Problem(
            title=status.phrase,
            status=status,
            detail=_too_large_detail(limit),
        )
        payload = json.dumps(body.model_dump(exclude_none=True)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", MEDIA_TYPE.encode()),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})
