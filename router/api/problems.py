"""Errors as RFC 9457 problem details (``application/problem+json``).

Every ``EventRouterError`` maps to one status, and its message, written for people, becomes
``detail``: the API says what the CLI says. Invalid request fields (422) are listed in
``errors``, one ``{"name", "reason"}`` each.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from eventrouter.router.errors import (
    ConfigError,
    Conflict,
    EventRouterError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PublishError,
    ServiceUnavailable,
    StreamFull,
    Unauthorized,
    first_line,
)

MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("eventrouter.api")


class InvalidParam(BaseModel):
    name: str
    """Where: ``body.events.3.name``, ``query.limit``…"""
    reason: str


class Problem(BaseModel):
    """An error, as RFC 9457 describes it."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[InvalidParam] | None = None


# The most specific class first: Conflict and NotFound are ConfigErrors (422 otherwise).
STATUS: list[tuple[type[EventRouterError], HTTPStatus]] = [
    (Unauthorized, HTTPStatus.UNAUTHORIZED),
    (Forbidden, HTTPStatus.FORBIDDEN),
    (NotFound, HTTPStatus.NOT_FOUND),
    (Conflict, HTTPStatus.CONFLICT),
    (PayloadTooLarge, HTTPStatus.REQUEST_ENTITY_TOO_LARGE),
    (StreamFull, HTTPStatus.SERVICE_UNAVAILABLE),
    (PublishError, HTTPStatus.SERVICE_UNAVAILABLE),
    (ServiceUnavailable, HTTPStatus.SERVICE_UNAVAILABLE),
]


def status_of(exc: EventRouterError) -> HTTPStatus:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return HTTPStatus.UNPROCESSABLE_ENTITY  # ConfigError, InvalidEvent: fix the input


def problem(
    status: int,
    detail: str,
    *,
    errors: list[InvalidParam] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, errors=errors)
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def _eventrouter_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EventRouterError)
    status = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == HTTPStatus.UNAUTHORIZED else None
    if isinstance(exc, StreamFull):
        headers = {"Retry-After": "1"}
    errors = None
    if isinstance(exc, ConfigError) and exc.field:  # the field a form shows it next to
        errors = [InvalidParam(name=_location(exc.field), reason=str(exc))]
    return problem(status, str(exc), errors=errors, headers=headers)


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        InvalidParam(name=_location(error.get("loc", ())), reason=str(error.get("msg", "")))
        for error in exc.errors()
    ]
    first = errors[0] if errors else InvalidParam(name="body", reason="invalid")
    return problem(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        f"invalid request: {first.name}: {first.reason}",
        errors=errors,
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return problem(exc.status_code, str(exc.detail), headers=exc.headers)


async def _bug(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error in %s %s", request.method, request.url.path)
    return problem(
        HTTPStatus.INTERNAL_SERVER_ERROR,
        f"unexpected {type(exc).__name__}: {first_line(exc)} (a bug in eventrouter; "
        "please report it with the request you sent)",
    )


def install(app: FastAPI) -> None:
    """Answer every error of ``app`` as problem details."""
    app.add_exception_handler(EventRouterError, _eventrouter_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _bug)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": HTTPStatus(status).phrase}
    for status in (401, 403, 404, 409, 413, 422, 503)
}
"""For the OpenAPI schema: what every endpoint may answer besides success."""
