"""Channels: list (system channels read-only), add with a pattern tester, remove."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Query
from starlette.responses import Response

from eventrouter.router.dashboard.web import SignedIn, redirect
from eventrouter.router.errors import ConfigError
from eventrouter.router.models import ChannelIn, ChannelUpdate

router = APIRouter(prefix="/channels")


def _names(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


@router.get("")
def channel_list(page: SignedIn) -> Response:
    return page.render("channels.html", channels=page.control.channels.list())


@router.get("/new")
def new_channel(page: SignedIn) -> Response:
    return page.render("channel_form.html", values={}, errors={}, tested=None)


@router.get("/pattern-test")
def pattern_test(
    page: SignedIn, pattern: str = "", names: Annotated[str, Query(max_length=10_000)] = ""
) -> Response:
    """The tester's result as a fragment; the form's script asks for it as people type."""
    tested = page.control.channels.test_pattern(pattern, _names(names)) if pattern else None
    return page.render("pattern_result.html", tested=tested)


@router.post("/new")
def add_channel(
    page: SignedIn,
    name: Annotated[str, Form()] = "",
    pattern: Annotated[str, Form()] = "",
    env: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    names: Annotated[str, Form(max_length=10_000)] = "",
    action: Annotated[str, Form()] = "add",
) -> Response:
    values = {
        "name": name,
        "pattern": pattern,
        "env": env,
        "description": description,
        "names": names,
    }
    tested = page.control.channels.test_pattern(pattern, _names(names)) if pattern else None
    if action == "test":
        return page.render("channel_form.html", values=values, errors={}, tested=tested)
    try:
        page.control.channels.add(
            ChannelIn(
                name=name.strip(),
                pattern=pattern,
                env=env.strip() or None,
                description=description.strip(),
            )
        )
    except ConfigError as exc:
        field = exc.field[0] if exc.field else ""
        return page.render(
            "channel_form.html",
            status_code=400,
            values=values,
            errors={field: str(exc)},
            tested=tested,
        )
    return redirect("/channels")


@router.get("/{name}/edit")
def edit_channel(page: SignedIn, name: str) -> Response:
    channel = page.control.channels.get(name)
    values = {
        "name": channel.name,
        "pattern": channel.pattern,
        "env": channel.env or "",
        "description": channel.description,
    }
    return page.render("channel_form.html", values=values, errors={}, tested=None, editing=channel)


@router.post("/{name}/edit")
def update_channel(
    page: SignedIn,
    name: str,
    pattern: Annotated[str, Form()] = "",
    env: Annotated[str, Form()] = "",
    description: Annotated[str, Form()] = "",
    names: Annotated[str, Form(max_length=10_000)] = "",
    action: Annotated[str, Form()] = "save",
) -> Response:
    channel = page.control.channels.get(name)
    values = {
        "name": name,
        "pattern": pattern,
        "env": env,
        "description": description,
        "names": names,
    }
    tested = page.control.channels.test_pattern(pattern, _names(names)) if pattern else None
    if action == "test":
        return page.render(
            "channel_form.html", values=values, errors={}, tested=tested, editing=channel
        )
    try:
        page.control.channels.update(
            name,
            ChannelUpdate(
                pattern=pattern, env=env.strip() or None, description=description.strip()
            ),
        )
    except ConfigError as exc:
        field = exc.field[0] if exc.field else ""
        return page.render(
            "channel_form.html",
            status_code=400,
            values=values,
            errors={field: str(exc)},
            tested=tested,
            editing=channel,
        )
    return redirect("/channels")


@router.get("/{name}/remove")
def confirm_remove(page: SignedIn, name: str) -> Response:
    return page.render(
        "confirm.html",
        noun="channel",
        name=page.control.channels.get(name).name,
        action=f"/channels/{name}/remove",
        consequence="Only a channel no subscription uses can be removed.",
        back="/channels",
    )


@router.post("/{name}/remove")
def remove(page: SignedIn, name: str) -> Response:
    page.control.channels.remove(name)
    return redirect("/channels")
