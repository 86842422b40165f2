"""``create_app()``: the FastAPI application, one router per resource.

    from eventrouter.router.api.app import create_app
    app = create_app()                # settings from EVENTROUTER_* variables
    app.include_router(my_router)     # the dashboard and Slack's endpoints mount theirs

Stateless: run as many processes as you like behind a load balancer (``eventrouter api``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Scope

from eventrouter.router.api import health, metrics, problems
from eventrouter.router.api.limits import BodyLimit
from eventrouter.router.api.routers import (
    channels,
    deliveries,
    destinations,
    events,
    preferences,
    silences,
    slack,
    subscriptions,
    tokens,
    users,
)
from eventrouter.router.api.state import AppState
from eventrouter.router.control import Caller
from eventrouter.router.control.tokens import authenticate
from eventrouter.router.dashboard import create_dashboard
from eventrouter.router.db import make_engine
from eventrouter.router.redis_conn import redis_client
from eventrouter.router.settings import Settings

API_PREFIX = "/v1"
API_POOL_SIZE = 10
"""Postgres connections per API process (plus as many overflow): endpoints run in a thread
pool, and each holds one connection only for the length of its transaction."""

DESCRIPTION = """\
Publish events, read the delivery log, retry deliveries, send test notifications and manage
channels, destinations, subscriptions, users and tokens.

Every request but the health checks carries `Authorization: Bearer er_…` (a token from
`eventrouter tokens create`). Roles: **viewer** reads; **developer** also publishes, retries
and sends tests; **admin** also changes configuration, users and tokens. A token sees only
its org: another org's objects are 404. Errors are `application/problem+json` (RFC 9457).
Lists are paged: `limit` (default 20, at most 100) and `cursor` (the `next_cursor` of the
previous page).
"""


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """The API for ``settings`` (default: from the environment); ``engine`` to share one."""
    settings = settings or Settings()
    own_engine = engine is None
    state = AppState(
        settings=settings,
        engine=engine or make_engine(settings.database_url, pool_size=API_POOL_SIZE),
        redis=redis_client(settings.redis_url),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if own_engine:
            state.engine.dispose()

    app = FastAPI(
        title="eventrouter",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=problems.ERROR_RESPONSES,
    )
    app.state.eventrouter = state
    problems.install(app)
    app.add_middleware(BodyLimit)
    app.include_router(health.router)
    app.include_router(metrics.router)
    for resource in (
        events,
        deliveries,
        channels,
        destinations,
        subscriptions,
        silences,
        users,
        preferences,
        tokens,
        slack,
    ):
        app.include_router(resource.router, prefix=API_PREFIX)
    # The dashboard answers every path no API route claims (its pages, its assets).
    app.router.routes.append(DashboardMount(app.router.routes, dashboard_for(state)))
    return app


class DashboardMount(Mount):
    """The dashboard at ``/`` for what the API does not serve: never under ``/v1`` (an
    unknown API path stays a 404 problem, a wrong method a 405), and never a path that a
    route of the API matches, even one included after this mount."""

    def __init__(self, api_routes: list[BaseRoute], dashboard: ASGIApp) -> None:
        super().__init__("/", app=dashboard)
        self.api_routes = api_routes

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            return Match.NONE, {}
        for route in self.api_routes:
            if route is not self and route.matches(scope)[0] is not Match.NONE:
                return Match.NONE, {}
        return super().matches(scope)


def dashboard_for(state: AppState) -> FastAPI:
    """The dashboard on the API's engine and settings, signing in through the same token
    check as bearer requests."""

    def sign_in(token: str) -> Caller:
        return authenticate(state.engine, state.settings, token)

    return create_dashboard(state.engine, state.settings, sign_in)
