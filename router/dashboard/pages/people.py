"""Users and API tokens, for admins: list, add a user, change a role, remove; list tokens
(never the token itself), create one (shown once), revoke. The services refuse anyone else."""

from __future__ import annotations

from functools import partial

from fastapi import APIRouter
from starlette.responses import Response

from eventrouter.router.control import Role
from eventrouter.router.dashboard.submit import Errors, Posted, Submitted, save
from eventrouter.router.dashboard.web import Page, SignedIn, redirect
from eventrouter.router.models.people import TokenIn, UserIn

router = APIRouter()
SHOWN = 200
"""Users or tokens on one page."""
ROLES = tuple(role.value for role in Role)


def _users(page: Page, form: Submitted, errors: Errors | None = None) -> Response:
    found = page.control.users.list(
        limit=SHOWN, cursor_token=page.request.query_params.get("cursor")
    )
    return page.render_form(
        "users.html",
        form.values,
        errors,
        users=found.items,
        next_cursor=found.next_cursor,
        roles=ROLES,
    )


@router.get("/users")
def user_list(page: SignedIn) -> Response:
    return _users(page, Submitted())


@router.post("/users/new")
def add_user(page: SignedIn, form: Posted) -> Response:
    def add() -> Response:
        page.control.users.add(
            UserIn(
                email=form.get("email"),
                role=form.get("role"),
                name=form.get("name"),
                timezone=form.optional("timezone"),
            )
        )
        return redirect("/users")

    return save(partial(_users, page, form), add)


@router.post("/users/{email}/role")
def change_role(page: SignedIn, email: str, form: Posted) -> Response:
    page.control.users.set_role(email, form.get("role"))
    return redirect("/users")


@router.get("/users/{email}/remove")
def confirm_remove_user(page: SignedIn, email: str) -> Response:
    return page.confirm_removal(
        "user",
        page.control.users.get(email).email,
        listing="/users",
        consequence="Their tokens stop working at once.",
    )


@router.post("/users/{email}/remove")
def remove_user(page: SignedIn, email: str) -> Response:
    page.control.users.remove(email)
    return redirect("/users")


def _tokens(page: Page, form: Submitted, errors: Errors | None = None) -> Response:
    found = page.control.tokens.list(
        limit=SHOWN, cursor_token=page.request.query_params.get("cursor")
    )
    return page.render_form(
        "tokens.html",
        {"expires_in": "90d", **form.values},
        errors,
        tokens=found.items,
        next_cursor=found.next_cursor,
        users=page.control.users.list(limit=SHOWN).items,
        roles=ROLES,
    )


@router.get("/tokens")
def token_list(page: SignedIn) -> Response:
    return _tokens(page, Submitted())


@router.post("/tokens/new")
def create_token(page: SignedIn, form: Posted) -> Response:
    def create() -> Response:
        created = page.control.tokens.create(
            TokenIn(
                user=form.optional("user"),
                service=form.optional("service"),
                role=form.optional("role"),
                name=form.get("name"),
                # Blank is an absent --expires-in: the default lifetime.
                **({"expires_in": form.get("expires_in")} if form.get("expires_in") else {}),
            )
        )
        return page.render("token_created.html", token=created)

    return save(partial(_tokens, page, form), create)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(page: SignedIn, token_id: int) -> Response:
    page.control.tokens.revoke(token_id)
    return redirect("/tokens")
