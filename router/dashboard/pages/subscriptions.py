"""Subscriptions: list, add and edit (channels to destinations and people, one env or all,
and the rules: filter, state, grouping, throttling, quiet hours), enable, disable, remove."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter
from starlette.responses import Response

from eventrouter.router.control.subscriptions import merged_rules
from eventrouter.router.dashboard.rule_form import (
    RULE_SECTIONS,
    rule_values,
    rules_given,
    rules_summary,
)
from eventrouter.router.dashboard.submit import Errors, Posted, Submitted, save
from eventrouter.router.dashboard.web import Page, SignedIn, redirect
from eventrouter.router.models.configuration import Subscription, SubscriptionIn, SubscriptionUpdate

router = APIRouter(prefix="/subscriptions")


@router.get("")
def subscription_list(page: SignedIn) -> Response:
    return page.render(
        "subscriptions.html",
        subscriptions=page.control.subscriptions.list(),
        summary=rules_summary,
    )


def _form(
    page: Page,
    form: Submitted,
    editing: Subscription | None = None,
    errors: Errors | None = None,
) -> Response:
    return page.render_form(
        "subscription_form.html",
        form.values,
        errors,
        channels=page.control.channels.list(),
        destinations=page.control.destinations.list(),
        rule_sections=RULE_SECTIONS,
        picked={"channels": form.many("channels"), "destinations": form.many("destinations")},
        editing=editing,
    )


@router.get("/new")
def new_subscription(page: SignedIn) -> Response:
    return _form(page, Submitted())


@router.post("/new")
def add_subscription(page: SignedIn, form: Posted) -> Response:
    def add() -> Response:
        created = page.control.subscriptions.add(
            SubscriptionIn(
                name=form.get("name"),
                channels=form.many("channels"),
                destinations=form.many("destinations"),
                env=form.optional("env"),
                users=form.optional("users"),
                mandatory=bool(form.get("mandatory")),
                rules=merged_rules(None, rules_given(form.values)),
            )
        )
        return redirect(f"/subscriptions#{created.name}")

    return save(partial(_form, page, form, None), add)


@router.get("/{name}/edit")
def edit_subscription(page: SignedIn, name: str) -> Response:
    current = page.control.subscriptions.get(name)
    form = Submitted(
        values={
            "name": current.name,
            "env": current.env or "",
            "users": current.users or "",
            "mandatory": "on" if current.mandatory else "",
            **rule_values(current.rules),
        },
        lists={"channels": current.channels, "destinations": current.destinations},
    )
    return _form(page, form, current)


@router.post("/{name}/edit")
def update_subscription(page: SignedIn, name: str, form: Posted) -> Response:
    current = page.control.subscriptions.get(name)

    def update() -> Response:
        page.control.subscriptions.update(
            name,
            SubscriptionUpdate(
                channels=form.many("channels"),
                destinations=form.many("destinations"),
                env=form.optional("env"),
                # Like every field the form shows, blank people is ``--no-users``.
                users=form.optional("users"),
                mandatory=bool(form.get("mandatory")),
                # The form shows every rule: what it holds replaces what was there.
                rules=rules_given(form.values),
                clear_rules=True,
            ),
        )
        return redirect(f"/subscriptions#{name}")

    return save(partial(_form, page, form, current), update)


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
    return page.confirm_removal(
        "subscription",
        page.control.subscriptions.get(name).name,
        listing="/subscriptions",
        consequence="Events stop going to its destinations and people; what was delivered "
        "stays in history.",
    )


@router.post("/{name}/remove")
def remove(page: SignedIn, name: str) -> Response:
    page.control.subscriptions.remove(name)
    return redirect("/subscriptions")
