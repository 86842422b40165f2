"""Channels: list (system channels read-only), add with a pattern tester, remove."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from eventrouter.router.dashboard.submit import Errors, Posted, Submitted, save
from eventrouter.router.dashboard.web import Page, SignedIn, redirect
from eventrouter.router.models.configuration import Channel, ChannelIn, ChannelUpdate

router = APIRouter(prefix="/channels")


def _names(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@router.get("")
def channel_list(page: SignedIn) -> Response:
    return page.render("channels.html", channels=page.control.channels.list())


def _form(
    page: Page,
    form: Submitted,
    editing: Channel | None = None,
    errors: Errors | None = None,
) -> Response:
    pattern, names = form.get("pattern"), form.get("names")
    tested = page.control.channels.test_pattern(pattern, _names(names)) if pattern else None
    return page.render_form(
        "channel_form.html",
        form.values,
        errors,
        tested=tested,
        editing=editing,
    )


@router.get("/new")
def new_channel(page: SignedIn) -> Response:
    return _form(page, Submitted())


@router.get("/pattern-test")
def pattern_test(
    page: SignedIn, pattern: str = "", names: Annotated[str, Query(max_length=10_000)] = ""
) -> Response:
    """The tester's result as a fragment; the form's script asks for it as people type."""
    tested = page.control.channels.test_pattern(pattern, _names(names)) if pattern else None
    return page.render("pattern_result.html", tested=tested)


@router.post("/new")
def add_channel(page: SignedIn, form: Posted) -> Response:
    def add() -> Response:
        page.control.channels.add(
            ChannelIn(
                name=form.get("name"),
                pattern=form.get("pattern"),
                env=form.optional("env"),
                description=form.get("description"),
            )
        )
        return redirect("/channels")

    if form.get("action") == "test":
        return _form(page, form)
    return save(partial(_form, page, form, None), add)


@router.get("/{name}/edit")
def edit_channel(page: SignedIn, name: str) -> Response:
    channel = page.control.channels.get(name)
    values = {
        "name": channel.name,
        "pattern": channel.pattern,
        "env": channel.env or "",
        "description": channel.description,
    }
    return _form(page, Submitted(values), channel)


@router.post("/{name}/edit")
def update_channel(page: SignedIn, name: str, form: Posted) -> Response:
    channel = page.control.channels.get(name)

    def update() -> Response:
        page.control.channels.update(
            name,
            ChannelUpdate(
                pattern=form.get("pattern"),
                env=form.optional("env"),
                description=form.get("description"),
            ),
        )
        return redirect("/channels")

    if form.get("action") == "test":
        return _form(page, form, channel)
    return save(partial(_form, page, form, channel), update)


@router.get("/{name}/remove")
def confirm_remove(page: SignedIn, name: str) -> Response:
    return page.confirm_removal(
        "channel",
        page.control.channels.get(name).name,
        listing="/channels",
        consequence="Only a channel no subscription uses can be removed.",
    )


@router.post("/{name}/remove")
def remove(page: SignedIn, name: str) -> Response:
    page.control.channels.remove(name)
    return redirect("/channels")
