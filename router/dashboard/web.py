"""What every dashboard page shares: who is asking, rendering, and errors as pages.

Handlers stay thin: ``Page`` gives them the caller's ``Control`` (every action goes through
the service layer, which checks the role), ``render`` fills a template, and every
``EventRouterError`` a service raises becomes a page in plain words with the right status.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from sqlalchemy import Engine
from starlette.responses import RedirectResponse, Response

from eventrouter.router.control import Caller, Control, Role
from eventrouter.router.dashboard.rule_form import error_caret
from eventrouter.router.dashboard.session import Session
from eventrouter.router.errors import ConfigError, EventRouterError
from eventrouter.router.settings import Settings

Authenticate = Callable[[str], Caller]
"""Turns an API token into the caller it acts for; raises ``EventRouterError`` (usually
``Forbidden``) for a token that is unknown, expired or revoked."""

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


class SignInRequired(Exception):
    """No session, or its token no longer works: go to the sign-in page."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or "")
        self.message = message


class CsrfRefused(Exception):
    """A state-changing request without this session's CSRF token."""


@dataclass(frozen=True, slots=True)
class Deps:
    """What the dashboard app was built with (``request.app.state.deps``)."""

    engine: Engine
    settings: Settings
    authenticate: Authenticate


def session_of(request: Request) -> Session:
    session: Session = request.state.session
    return session


async def check_csrf(request: Request) -> None:
    """Every state-changing request carries the session's CSRF token, in the form
    (``csrf_token``) or in the ``X-CSRF-Token`` header; a cross-site form has neither."""
    if request.method in SAFE_METHODS:
        return
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not hmac.compare_digest(sent, session_of(request).csrf):
        raise CsrfRefused()


@dataclass(frozen=True, slots=True)
class Page:
    """One signed-in request: the caller and every service acting for them."""

    request: Request
    control: Control
    session: Session

    @property
    def caller(self) -> Caller:
        return self.control.caller

    @property
    def can_admin(self) -> bool:
        return self.caller.role.includes(Role.ADMIN)

    @property
    def can_operate(self) -> bool:
        """Send tests, retry deliveries: developers and admins."""
        return self.caller.role.includes(Role.DEVELOPER)

    def render(self, template: str, status_code: int = 200, **values: Any) -> Response:
        return render(self.request, template, status_code=status_code, page=self, **values)

    def confirm_removal(
        self,
        noun: str,
        name: str,
        *,
        listing: str,
        consequence: str,
        back: str | None = None,
        force: str = "",
    ) -> Response:
        """The page that asks before ``name`` is removed: its button posts to
        ``{listing}/{name}/remove``; Cancel goes ``back`` (the list unless told). ``force``
        labels an extra box to tick (what else the removal should undo)."""
        return self.render(
            "confirm.html",
            noun=noun,
            name=name,
            action=f"{listing}/{name}/remove",
            consequence=consequence,
            back=back or listing,
            force=force,
        )

    def render_form(
        self,
        template: str,
        values: Mapping[str, str],
        errors: Mapping[str, str] | None,
        **context: Any,
    ) -> Response:
        """A page with a form: what was typed (``values``) and the messages by their fields
        (``errors``); 400 when there are any, so a refused form is not a success."""
        return self.render(
            template,
            status_code=400 if errors else 200,
            values=values,
            errors=errors or {},
            **context,
        )


def signed_in(request: Request) -> Page:
    session = session_of(request)
    if session.token is None:
        raise SignInRequired()
    deps: Deps = request.app.state.deps
    try:
        caller = deps.authenticate(session.token)
    except EventRouterError as exc:
        session.sign_out()
        raise SignInRequired(f"Your session ended: {exc}") from None
    return Page(request, Control(deps.engine, deps.settings, caller), session)


SignedIn = Annotated[Page, Depends(signed_in)]


def render(request: Request, template: str, *, status_code: int = 200, **values: Any) -> Response:
    session = session_of(request)
    values.setdefault("page", None)
    return templates.TemplateResponse(
        request,
        template,
        {"csrf": session.csrf, "timezone": session.timezone, **values},
        status_code=status_code,
    )


def redirect(url: str) -> RedirectResponse:
    """After a POST: the browser GETs ``url`` (303), so a reload never repeats the action."""
    return RedirectResponse(url, status_code=303)


def sign_in_url(request: Request) -> str:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"/signin?next={quote(target, safe='')}"


# -- template helpers --------------------------------------------------------------------
def zone_named(name: str | None) -> ZoneInfo | None:
    """The person's zone, ``None`` for none (or one this host does not know)."""
    try:
        return ZoneInfo(name) if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_time(text: str, timezone: str | None, field: str) -> datetime | None:
    """A ``datetime-local`` form value, in the zone the form was filled in (UTC if none or
    unknown); ``ConfigError`` naming ``field`` if it is not a date and time."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=zone_named(timezone) or UTC)
    except ValueError:
        raise ConfigError(f"{field}: {text!r} is not a date and time") from None


def when(value: datetime | None, timezone: str | None = None) -> Markup:
    """A ``<time>``: in the person's time zone when they chose one, else UTC, which the
    page's script turns into the browser's time zone."""
    if value is None:
        return Markup("—")
    zone = zone_named(timezone)
    shown = value.astimezone(zone) if zone else value
    label = f"{shown:%Y-%m-%d %H:%M:%S}" + ("" if zone else " UTC")
    return Markup('<time datetime="{}">{}</time>').format(value.isoformat(), label)


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def millis(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


def pretty_json(value: Any) -> str:
    """JSON for people to read (autoescaping makes it safe in HTML; ``tojson`` would show
    ``<`` as ``\\u003c``)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


templates.env.globals["when"] = when
templates.env.filters["pretty_json"] = pretty_json
templates.env.filters["percent"] = percent
templates.env.filters["millis"] = millis
templates.env.filters["caret"] = error_caret
