"""Signing in with an API token, signing out, and the person's time zone."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import available_timezones

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from eventrouter.router.control import Control
from eventrouter.router.control.users import check_timezone
from eventrouter.router.dashboard.web import Deps, SignedIn, redirect, render, session_of
from eventrouter.router.errors import ConfigError, EventRouterError, ServiceUnavailable

router = APIRouter()


def _safe_next(target: str | None) -> str:
    """Only a path on this site: ``next=https://evil.example`` must not be an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/signin")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    return render(request, "signin.html", next=_safe_next(next), error=None)


@router.post("/signin")
def sign_in(
    request: Request, token: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "/"
) -> Response:
    deps: Deps = request.app.state.deps
    token = token.strip()
    if not token:
        error = "Paste an API token (eventrouter tokens create … prints one)."
    else:
        try:
            caller = deps.authenticate(token)
        except ServiceUnavailable:
            raise
        except EventRouterError as exc:
            error = f"That token does not work: {exc}"
        else:
            session = session_of(request)
            session.sign_in(token)
            if caller.user_id is not None:
                control = Control(deps.engine, deps.settings, caller)
                session.timezone = control.users.me().timezone
            return redirect(_safe_next(next))
    return render(request, "signin.html", status_code=401, next=_safe_next(next), error=error)


@router.post("/signout")
def sign_out(request: Request) -> Response:
    session_of(request).sign_out()
    return redirect("/signin")


@router.get("/settings")
def settings_page(page: SignedIn) -> Response:
    return page.render("settings.html", zones=sorted(available_timezones()), saved=False)


@router.post("/settings")
def save_settings(page: SignedIn, timezone: Annotated[str, Form()] = "") -> Response:
    """A user's choice is stored with the user (the API and every session see it); a
    service token's lasts as long as this session."""
    zones = sorted(available_timezones())
    zone = timezone.strip() or None
    try:
        if page.caller.user_id is not None:
            page.control.users.set_timezone(zone)
        else:
            check_timezone(zone)
    except ConfigError as exc:
        return page.render(
            "settings.html", status_code=400, zones=zones, saved=False, error=str(exc)
        )
    page.session.timezone = zone
    page.session.changed = True
    return page.render("settings.html", zones=zones, saved=True)
