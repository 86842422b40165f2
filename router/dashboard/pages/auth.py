"""Signing in with an API token, signing out, and the person's time zone."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import available_timezones

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from eventrouter.router.dashboard.web import Deps, SignedIn, redirect, render, session_of
from eventrouter.router.errors import EventRouterError, ServiceUnavailable

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
            deps.authenticate(token)
        except ServiceUnavailable:
            raise
        except EventRouterError as exc:
            error = f"That token does not work: {exc}"
        else:
            session_of(request).sign_in(token)
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
    zones = available_timezones()
    if timezone and timezone not in zones:
        return page.render(
            "settings.html",
            status_code=400,
            zones=sorted(zones),
            saved=False,
            error=f"{timezone!r} is not a time zone; pick one from the list",
        )
    page.session.timezone = timezone or None
    page.session.changed = True
    return page.render("settings.html", zones=sorted(zones), saved=True)
