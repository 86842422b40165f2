"""``/v1/users`` (admins) and ``/v1/me`` (anyone: who am I?)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel

from eventrouter.router.api.auth import CallerDep, ControlDep
from eventrouter.router.api.paging import Cursor, Limit
from eventrouter.router.models.base import Page
from eventrouter.router.models.people import User, UserIn, UserUpdate

router = APIRouter(tags=["users"])


class Me(BaseModel):
    org: str
    role: str
    user: User | None
    """``None`` for a service token."""


@router.get("/me", response_model=Me)
def me(caller: CallerDep, control: ControlDep) -> Me:
    """The org and role this token acts with, and its user if it has one."""
    user = control.users.me() if caller.user_id is not None else None
    return Me(org=caller.org, role=caller.role.value, user=user)


@router.get("/users", response_model=Page[User])
def list_users(control: ControlDep, limit: Limit = 20, cursor: Cursor = None) -> Page[User]:
    return control.users.list(limit=limit, cursor_token=cursor)


@router.post("/users", response_model=User, status_code=201)
def add_user(spec: UserIn, control: ControlDep) -> User:
    return control.users.add(spec)


@router.get("/users/{email}", response_model=User)
def get_user(email: str, control: ControlDep) -> User:
    return control.users.get(email)


@router.patch("/users/{email}", response_model=User)
def update_user(email: str, change: UserUpdate, control: ControlDep) -> User:
    """Change a user's role (their tokens act with it from the next request), name, time
    zone or Slack contact; only the fields sent change."""
    return control.users.update(email, change)


@router.delete("/users/{email}", status_code=204)
def remove_user(email: str, control: ControlDep) -> Response:
    """Remove a user and every token they hold."""
    control.users.remove(email)
    return Response(status_code=204)
