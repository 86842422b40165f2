"""Destinations: list, add (a form per kind), enable, disable, remove, rotate the signing
secret, send a test."""

from __future__ import annotations

from functools import partial
from typing import Annotated

from fastapi import APIRouter, Form
from starlette.responses import Response

from eventrouter.router.dashboard.forms import (
    current_values,
    edit_patch,
    error_field,
    fields_for,
    read_form,
)
from eventrouter.router.dashboard.submit import Errors, Posted, save
from eventrouter.router.dashboard.web import Page, SignedIn, redirect
from eventrouter.router.destinations import KINDS, build_config
from eventrouter.router.models.configuration import Destination, DestinationIn, DestinationUpdate

router = APIRouter(prefix="/destinations")


def _kind(kind: str | None) -> str:
    return kind if kind in KINDS else "webhook"


@router.get("")
def destination_list(page: SignedIn) -> Response:
    return page.render("destinations.html", destinations=page.control.destinations.list())


def _form(
    page: Page,
    kind: str,
    values: dict[str, str],
    editing: Destination | None = None,
    errors: Errors | None = None,
) -> Response:
    return page.render_form(
        "destination_form.html",
        values,
        errors,
        kind=kind,
        kinds=list(KINDS),
        fields=fields_for(kind),
        editing=editing,
    )


@router.get("/new")
def new_destination(page: SignedIn, type: str | None = None) -> Response:
    return _form(page, _kind(type), {})


@router.post("/new")
def add_destination(page: SignedIn, form: Posted) -> Response:
    kind = _kind(form.get("type"))
    show = partial(_form, page, kind, form.values, None)
    given, errors = read_form(kind, form.values)
    if errors:
        return show(errors)

    def add() -> Response:
        created = page.control.destinations.add(
            DestinationIn(
                name=form.get("name"),
                type=kind,
                config=build_config(kind, given),
                retry_schedule=form.optional("retry_schedule"),
                generate_secret=form.get("generate_secret") == "on",
            )
        )
        if created.signing_secret:
            return page.render("secret.html", name=created.name, secret=created.signing_secret)
        return redirect(f"/destinations/{created.name}")

    return save(show, add, partial(error_field, kind))


@router.get("/{name}")
def destination_detail(page: SignedIn, name: str) -> Response:
    return page.render("destination.html", destination=page.control.destinations.get(name))


def _before(destination: Destination) -> dict[str, str]:
    return {
        **current_values(destination.type, destination.config),
        "retry_schedule": destination.retry_schedule or "",
    }


@router.get("/{name}/edit")
def edit_destination(page: SignedIn, name: str) -> Response:
    destination = page.control.destinations.get(name)
    return _form(page, destination.type, _before(destination), destination)


@router.post("/{name}/edit")
def update_destination(page: SignedIn, name: str, form: Posted) -> Response:
    destination = page.control.destinations.get(name)
    show = partial(_form, page, destination.type, form.values, destination)
    before = _before(destination)
    patch, errors = edit_patch(destination.type, before, form.values)
    if errors:
        return show(errors)
    schedule = form.get("retry_schedule")
    changed_schedule = {"retry_schedule": schedule or None}
    change = DestinationUpdate(
        config=patch, **(changed_schedule if schedule != before["retry_schedule"] else {})
    )

    def update() -> Response:
        page.control.destinations.update(name, change)
        return redirect(f"/destinations/{name}")

    return save(show, update, partial(error_field, destination.type))


@router.post("/{name}/test")
def send_test(page: SignedIn, name: str, env: Annotated[str, Form()] = "") -> Response:
    result = page.control.destinations.test(name, env=env.strip() or None)
    return page.render(
        "destination.html", destination=page.control.destinations.get(name), test=result
    )


@router.post("/{name}/enable")
def enable(page: SignedIn, name: str) -> Response:
    page.control.destinations.set_enabled(name, True)
    return redirect(f"/destinations/{name}")


@router.post("/{name}/disable")
def disable(page: SignedIn, name: str) -> Response:
    page.control.destinations.set_enabled(name, False)
    return redirect(f"/destinations/{name}")


@router.post("/{name}/rotate-secret")
def rotate_secret(page: SignedIn, name: str) -> Response:
    rotated = page.control.destinations.rotate_secret(name)
    return page.render(
        "secret.html", name=name, secret=rotated.secret, valid_until=rotated.previous_valid_until
    )


@router.get("/{name}/remove")
def confirm_remove(page: SignedIn, name: str) -> Response:
    return page.confirm_removal(
        "destination",
        page.control.destinations.get(name).name,
        listing="/destinations",
        consequence="Its open deliveries are cancelled; its history is kept.",
        back=f"/destinations/{name}",
        force="Also detach it from the subscriptions that send to it",
    )


@router.post("/{name}/remove")
def remove(page: SignedIn, name: str, force: Annotated[str, Form()] = "") -> Response:
    page.control.destinations.remove(name, force=force == "on")
    return redirect("/destinations")
