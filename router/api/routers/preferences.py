"""People: notification preferences (``/v1/me/preferences`` for anyone's own,
``/v1/preferences`` and ``/v1/users/{id}/preferences`` for admins; another user's: 403 for
other roles), tests sent to a person, and the org's media for people (``/v1/people``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from eventrouter.router.api.auth import ControlDep
from eventrouter.router.api.paging import Cursor, Limit
from eventrouter.router.models.base import Page
from eventrouter.router.models.people import PeopleSettings, PeopleSettingsIn
from eventrouter.router.people.preferences import (
    PersonTest,
    PersonTestIn,
    PreferencesChange,
    UserPreferences,
)

router = APIRouter(tags=["preferences"])
UserId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The user's id (GET /v1/users).")]


@router.get("/me/preferences", response_model=UserPreferences)
def my_preferences(control: ControlDep) -> UserPreferences:
    """Your preferences; the first read stores the defaults (everything on, immediate)."""
    return control.preferences.mine()


@router.put("/me/preferences", response_model=UserPreferences)
def change_my_preferences(change: PreferencesChange, control: ControlDep) -> UserPreferences:
    """Change the fields sent, keep the others; ``channels`` are merged name by name. An
    unknown channel, time zone or field is refused (422 naming it) and nothing changes."""
    return control.preferences.change_mine(change)


@router.post("/me/test", response_model=PersonTest)
def test_me(request: PersonTestIn, control: ControlDep) -> PersonTest:
    """Send yourself ``eventrouter:test`` on ``medium`` now, through the org's destination
    for it, to where your notifications go; ``success`` and a one-line ``message`` say what
    happened (recorded like any delivery, as ``user:<email>/<medium>``)."""
    return control.preferences.test_mine(request.medium)


@router.post("/users/{user_id}/test", response_model=PersonTest)
def test_user(user_id: UserId, request: PersonTestIn, control: ControlDep) -> PersonTest:
    """Send one user a test (admins; anyone for themselves)."""
    return control.preferences.test(user_id, request.medium)


@router.get("/people", response_model=PeopleSettings)
def people_settings(control: ControlDep) -> PeopleSettings:
    """The org's destinations for people's notifications (``eventrouter people show``)."""
    return control.people.show()


@router.put("/people", response_model=PeopleSettings)
def change_people_settings(change: PeopleSettingsIn, control: ControlDep) -> PeopleSettings:
    """Name the email and the Slack bot destination that reach people (admins); only the
    media sent change, ``null`` turns one off for everyone."""
    return control.people.set(change)


@router.get("/preferences", response_model=Page[UserPreferences])
def list_preferences(
    control: ControlDep, limit: Limit = 20, cursor: Cursor = None
) -> Page[UserPreferences]:
    """Everyone's preferences (admins), in the order users were added."""
    return control.preferences.list(limit=limit, cursor_token=cursor)


@router.get("/users/{user_id}/preferences", response_model=UserPreferences)
def user_preferences(user_id: UserId, control: ControlDep) -> UserPreferences:
    return control.preferences.get(user_id)


@router.put("/users/{user_id}/preferences", response_model=UserPreferences)
def change_user_preferences(
    user_id: UserId, change: PreferencesChange, control: ControlDep
) -> UserPreferences:
    return control.preferences.change(user_id, change)
