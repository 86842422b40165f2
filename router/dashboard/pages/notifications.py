"""My notifications: the signed-in person's own preferences (media, channels, quiet hours in
their zone, digest), and for admins everyone's at a glance."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import available_timezones

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from eventrouter.router.dashboard.web import Page, SignedIn
from eventrouter.router.errors import ConfigError
from eventrouter.router.people.preferences import (
    Medium,
    PreferencesChange,
    UserPreferences,
    first_error,
)

router = APIRouter(prefix="/notifications")


def _render(
    page: Page, mine: UserPreferences, status_code: int = 200, **values: object
) -> Response:
    return page.render(
        "notifications.html",
        status_code=status_code,
        mine=mine,
        channels=page.control.channels.list(),
        zones=sorted(available_timezones()),
        **{"error": None, "saved": False, "tested": None, "test_error": None, **values},
    )


@router.get("")
def my_notifications(page: SignedIn) -> Response:
    return _render(page, page.control.preferences.mine())


def _change(form: FormData, channel_names: list[str]) -> PreferencesChange:
    """The whole form as a change: a checkbox left unticked is sent as nothing, so every
    medium and channel shown is set from the form."""
    text = {key: value.strip() for key, value in form.items() if isinstance(value, str)}
    window = text.get("quiet_window", "")
    return PreferencesChange.model_validate(
        {
            "email_enabled": "email_enabled" in text,
            "slack_enabled": "slack_enabled" in text,
            "channels": {name: f"channel:{name}" in text for name in channel_names},
            "quiet_hours": {
                "window": window,
                "days": text.get("quiet_days") or None,
                "mode": text.get("quiet_mode") or "hold",
            }
            if window
            else None,
            "digest": text.get("digest") or "immediate",
            "timezone": text.get("timezone") or None,
        }
    )


@router.post("")
async def save_my_notifications(page: SignedIn, request: Request) -> Response:
    form = await request.form()
    return await run_in_threadpool(_save, page, form)


def _save(page: Page, form: FormData) -> Response:
    mine = page.control.preferences.mine()
    try:
        names = [channel.name for channel in page.control.channels.list()]
        saved = page.control.preferences.change_mine(_change(form, names))
    except ValidationError as exc:
        return _render(page, mine, 400, error=first_error(exc))
    except ConfigError as exc:
        return _render(page, mine, 400, error=str(exc))
    page.session.timezone = saved.timezone
    return _render(page, saved, saved=True)


@router.post("/test")
def send_me_a_test(page: SignedIn, medium: Annotated[Medium, Form()]) -> Response:
    """ "Send me a test": a refusal (no medium set up, no Slack address) is shown on the
    page, like a failed send."""
    mine = page.control.preferences.mine()
    try:
        tested = page.control.preferences.test_mine(medium)
    except ConfigError as exc:
        return _render(page, mine, 400, test_error=str(exc).removeprefix("medium: "))
    return _render(page, mine, tested=tested)


@router.get("/everyone")
def everyones_notifications(page: SignedIn) -> Response:
    listed = page.control.preferences.list(limit=1000)
    return page.render("notifications_everyone.html", people=listed.items)
