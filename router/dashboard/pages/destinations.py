"""Destinations: list, add (a form per kind), enable, disable, remove, rotate the signing
secret, send a test."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from eventrouter.router.dashboard.forms import (
    current_values,
    edit_patch,
    error_field,
    fields_for,
    read_form,
)
from eventrouter.router.dashboard.web import Page, SignedIn, redirect
from eventrouter.router.destinations import KINDS, build_config
from eventrouter.router.errors import ConfigError
from eventrouter.router.models import Destination, DestinationIn, DestinationUpdate

router = APIRouter(prefix="/destinations")


def _kind(kind: str | None) -> str:
    return kind if kind in KINDS else "webhook"


@router.get("")
def destination_list(page: SignedIn) -> Response:
    return page.render("destinations.html", destinations=page.control.destinations.list())


@router.get("/new")
def new_destination(page: SignedIn, type: str | None = None) -> Response:
    kind = _kind(type)
    return page.render(
        "destination_form.html",
        kind=kind,
        kinds=list(KINDS),
        fields=fields_for(kind),
        values={},
        errors={},
    )


@router.post("/new")
async def add_destination(page: SignedIn, request: Request) -> Response:
    form = await request.form()
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    return await run_in_threadpool(_add, page, values)


def _add(page: Page, values: dict[str, str]) -> Response:
    kind = _kind(values.get("type"))
    given, errors = read_form(kind, values)
    if not errors:
        try:
            created = page.control.destinations.add(
                DestinationIn(
                    name=values.get("name", "").strip(),
                    type=kind,
                    config=build_config(kind, given),
                    retry_schedule=values.get("retry_schedule", "").strip() or None,
                    generate_secret=values.get("generate_secret") == "on",
                )
            )
        except ConfigError as exc:
            errors[error_field(kind, exc)] = str(exc)
        else:
            if created.signing_secret:
                return page.render("secret.html", name=created.name, secret=created.signing_secret)
            return redirect(f"/destinations/{created.name}")
    return page.render(
        "destination_form.html",
        status_code=400,
        kind=kind,
        kinds=list(KINDS),
        fields=fields_for(kind),
        values=values,
        errors=errors,
    )


@router.get("/{name}")
def destination_detail(page: SignedIn, name: str) -> Response:
    return page.render("destination.html", destination=page.control.destinations.get(name))


def _edit_form(
    page: Page,
    destination: Destination,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return page.render(
        "destination_form.html",
        status_code=status_code,
        kind=destination.type,
        editing=destination,
        fields=fields_for(destination.type),
        values=values,
        errors=errors,
    )


def _before(destination: Destination) -> dict[str, str]:
    return {
        **current_values(destination.type, destination.config),
        "retry_schedule": destination.retry_schedule or "",
    }


@router.get("/{name}/edit")
def edit_destination(page: SignedIn, name: str) -> Response:
    destination = page.control.destinations.get(name)
    return _edit_form(page, destination, _before(destination), {})


@router.post("/{name}/edit")
async def update_destination(page: SignedIn, name: str, request: Request) -> Response:
    form = await request.form()
    values = {key: value for key, value in form.items() if isinstance(value, str)}
    return await run_in_threadpool(_update, page, name, values)


def _update(page: Page, name: str, values: dict[str, str]) -> Response:
    destination = page.control.destinations.get(name)
    before = _before(destination)
    patch, errors = edit_patch(destination.type, before, values)
    schedule = values.get("retry_schedule", "").strip()
    changed_schedule = {"retry_schedule": schedule or None}
    change = DestinationUpdate(
        config=patch, **(changed_schedule if schedule != before["retry_schedule"] else {})
    )
    if not errors:
        try:
            page.control.destinations.update(name, change)
        except ConfigError as exc:
            errors[error_field(destination.type, exc)] = str(exc)
        else:
            return redirect(f"/destinations/{name}")
    return _edit_form(page, destination, values, errors, status_code=400)


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
    return page.render(
        "confirm.html",
        noun="destination",
        name=page.control.destinations.get(name).name,
        action=f"/destinations/{name}/remove",
        consequence="Its open deliveries are cancelled; its history is kept.",
        back=f"/destinations/{name}",
        force="Also detach it from the subscriptions that send to it",
    )


@router.post("/{name}/remove")
def remove(page: SignedIn, name: str, force: Annotated[str, Form()] = "") -> Response:
    page.control.destinations.remove(name, force=force == "on")
    return redirect("/destinations")
