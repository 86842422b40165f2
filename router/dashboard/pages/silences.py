"""Silences: the active and expired ones, adding one (a CEL filter, an optional channel, a
duration, an end or a recurring window, and why), expiring one. Developers and admins may
change them (the service says so); viewers see them."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial

from fastapi import APIRouter
from starlette.responses import Response

from eventrouter.router.dashboard.submit import Errors, Posted, Submitted, flag_field, save
from eventrouter.router.dashboard.web import Page, SignedIn, local_time, redirect
from eventrouter.router.errors import ConfigError
from eventrouter.router.models.rules import Silence, SilenceIn

router = APIRouter(prefix="/silences")
FLAGS = {f"--{name}": name for name in ("filter", "channel", "duration", "every", "comment")}
FLAGS |= {"--until": "until", "--timezone": "timezone"}
"""The CLI flags the service's messages name, and the form's fields."""
EXPIRED_SHOWN = 50


def ended(silence: Silence, now: datetime) -> bool:
    """Expired by hand or past its end (a recurring one between windows has not ended)."""
    return silence.expired_at is not None or (
        silence.ends_at is not None and silence.ends_at <= now
    )


def _page(page: Page, form: Submitted, errors: Errors | None = None) -> Response:
    found = page.control.silences.list(include_expired=True)
    now = datetime.now(UTC)
    return page.render_form(
        "silences.html",
        form.values,
        errors,
        current=[s for s in found if not ended(s, now)],
        # The latest expired first, a page of them: they only pile up.
        expired=[s for s in reversed(found) if ended(s, now)][:EXPIRED_SHOWN],
        channels=page.control.channels.list(),
    )


@router.get("")
def silence_list(page: SignedIn) -> Response:
    return _page(page, Submitted())


@router.post("/new")
def add_silence(page: SignedIn, form: Posted) -> Response:
    zone = page.session.timezone or form.get("tz")  # the person's, else the browser's

    def add() -> Response:
        created = page.control.silences.add(
            SilenceIn(
                filter=form.get("filter"),
                comment=form.get("comment"),
                channel=form.optional("channel"),
                duration=form.optional("duration"),
                ends_at=local_time(form.get("until"), zone, "--until"),
                every=form.optional("every"),
                timezone=form.optional("timezone"),
            )
        )
        return redirect(f"/silences#silence-{created.id}")

    def field_of(exc: ConfigError) -> str:
        return flag_field(str(exc), FLAGS)

    return save(partial(_page, page, form), add, field_of)


@router.post("/{silence_id}/expire")
def expire(page: SignedIn, silence_id: int) -> Response:
    page.control.silences.expire(silence_id)
    return redirect("/silences")
