"""Subscriptions: list, add (channels to destinations, one env or all), enable, disable,
remove."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import Response

from eventrouter.router.dashboard.web import Page, SignedIn, redirect
from eventrouter.router.errors import ConfigError
from eventrouter.router.models import SubscriptionIn, SubscriptionUpdate

router = APIRouter(prefix="/subscriptions")


@router.get("")
def subscription_list(page: SignedIn) -> Response:
    return page.render("subscriptions.html", subscriptions=page.control.subscriptions.list())


def _form(page: Page, status_code: int = 200, **values: object) -> Response:
    return page.render(
        "subscription_form.html",
        status_code=status_code,
        channels=page.control.channels.list(),
        destinations=page.control.destinations.list(),
        **{"values": {}, "picked": {}, "errors": {}, "editing": None, **values},
    )


def _picked(form: FormData) -> dict[str, list[str]]:
    return {
        "channels": [v for v in form.getlist("channels") if isinstance(v, str)],
        "destinations": [v for v in form.getlist("destinations") if isinstance(v, str)],
    }


@router.get("/new")
def new_subscription(page: SignedIn) -> Response:
    return _form(page)


@router.post("/new")
async def add_subscription(page: SignedIn, request: Request) -> Response:
    form = await request.form()
    picked = _picked(form)
    values = {key: value.strip() for key, value in form.items() if isinstance(value, str)}
    return await run_in_threadpool(_add, page, values, picked)


def _add(page: Page, values: dict[str, str], picked: dict[str, list[str]]) -> Response:
    try:
        created = page.control.subscriptions.add(
            SubscriptionIn(
                name=values.get("name", ""),
                channels=picked["channels"],
                destinations=picked["destinations"],
                env=values.get("env") or None,
            )
        )
    except ConfigError as exc:
        field = exc.field[0] if exc.field else ""
        return _form(page, 400, values=values, picked=picked, errors={field: str(exc)})
    return redirect(f"/subscriptions#{created.name}")


@router.get("/{name}/edit")
def edit_subscription(page: SignedIn, name: str) -> Response:
    current = page.control.subscriptions.get(name)
    return _form(
        page,
        editing=current,
        values={"name": current.name, "env": current.env or ""},
        picked={"channels": current.channels, "destinations": current.destinations},
    )


@router.post("/{name}/edit")
async def update_subscription(page: SignedIn, name: str, request: Request) -> Response:
    form = await request.form()
    picked = _picked(form)
    values = {key: value.strip() for key, value in form.items() if isinstance(value, str)}
    return await run_in_threadpool(_update, page, name, values, picked)


def _update(
    page: Page, name: str, values: dict[str, str], picked: dict[str, list[str]]
) -> Response:
    current = page.control.subscriptions.get(name)
    try:
        page.control.subscriptions.update(
            name,
            SubscriptionUpdate(
                channels=picked["channels"],
                destinations=picked["destinations"],
                env=values.get("env") or None,
            ),
        )
    except ConfigError as exc:
        field = exc.field[0] if exc.field else ""
        return _form(
            page, 400, editing=current, values=values, picked=picked, errors={field: str(exc)}
        )
    return redirect(f"/subscriptions#{name}")


@router.post("/{name}/enable")
def enable(page: SignedIn, name: str) -> Response:
    page.control.subscriptions.set_enabled(name, True)
    return redirect("/subscriptions")


@router.post("/{name}/disable")
def disable(page: SignedIn, name: str) -> Response:
    page.control.subscriptions.set_enabled(name, False)
    return redirect("/subscriptions")


@router.get("/{name}/remove")
def confirm_remove(page: SignedIn, name: str) -> Response:
    return page.render(
        "confirm.html",
        noun="subscription",
        name=page.control.subscriptions.get(name).name,
        action=f"/subscriptions/{name}/remove",
        consequence="Events stop going to its destinations; what was delivered stays in history.",
        back="/subscriptions",
    )


@router.post("/{name}/remove")
def remove(page: SignedIn, name: str) -> Response:
    page.control.subscriptions.remove(name)
    return redirect("/subscriptions")
