"""``/healthz`` (the process answers) and ``/readyz`` (it can reach Postgres and Redis), both
without authentication, for load balancers and Kubernetes probes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from eventrouter.router.api.problems import Problem, problem
from eventrouter.router.api.state import AppState, app_state
from eventrouter.router.db import safe_url
from eventrouter.router.errors import first_line
from eventrouter.router.redis_conn import safe_redis_url

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is alive (no dependency is checked)."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    responses={503: {"model": Problem, "description": "Postgres or Redis is unreachable"}},
)
def readyz(state: Annotated[AppState, Depends(app_state)]) -> Health | JSONResponse:
    """Postgres and Redis answer; 503 naming what is down otherwise."""
    down = []
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        down.append(f"Postgres at {safe_url(state.settings.database_url)} ({first_line(exc)})")
    try:
        state.redis.ping()
    except Exception as exc:
        down.append(f"Redis at {safe_redis_url(state.settings.redis_url)} ({first_line(exc)})")
    if down:
        return problem(503, "not ready: cannot reach " + "; ".join(down))
    return Health(status="ok")
