"""Authentication as a dependency: ``Authorization: Bearer er_…`` → a ``Caller`` → the
control plane acting for it. Whether the caller may do what it asks is decided by the
services, not here."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from eventrouter.router.api.state import AppState, app_state
from eventrouter.router.control import Caller, Control
from eventrouter.router.control.tokens import authenticate

bearer = HTTPBearer(
    auto_error=False,
    bearerFormat="er_…",
    description="An API token from 'eventrouter tokens create' or POST /v1/tokens.",
)


async def current_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The caller the request's bearer token acts as; 401 without a valid one."""
    state = app_state(request)
    token = credentials.credentials if credentials is not None else None
    return await run_in_threadpool(authenticate, state.engine, state.settings, token)


async def current_control(
    caller: Annotated[Caller, Depends(current_caller)],
    state: Annotated[AppState, Depends(app_state)],
) -> Control:
    """Every service, acting for the caller."""
    return Control(state.engine, state.settings, caller)


CallerDep = Annotated[Caller, Depends(current_caller)]
ControlDep = Annotated[Control, Depends(current_control)]
