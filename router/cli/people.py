"""``eventrouter users`` and ``eventrouter tokens``: who may call the HTTP API, and how."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC
from typing import TypeVar

import click
from pydantic import BaseModel

from eventrouter.router.cli.context import Context, pass_ctx
from eventrouter.router.cli.output import json_option, listing, report
from eventrouter.router.models.base import Page
from eventrouter.router.models.people import TokenIn, UserIn, UserUpdate

ROLES = click.Choice(["viewer", "developer", "admin"])
_PAGE = 1000
T = TypeVar("T", bound=BaseModel)


def every_page(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every item of a paged list, page after page."""
    next_cursor: str | None = None
    while True:
        page = fetch(next_cursor)
        yield from page.items
        next_cursor = page.next_cursor
        if next_cursor is None:
            return


@click.group()
def users() -> None:
    """Users: the people of an org and their roles (viewer < developer < admin)."""


@users.command("add")
@click.argument("email")
@click.option("--role", type=ROLES, required=True, help="What the user may do.")
@click.option("--name", default="", help="Display name.")
@click.option("--timezone", default=None, help="IANA time zone, e.g. Europe/Paris [UTC].")
@click.option("--slack-user", default=None, help="Slack member id (U0123ABCD), for DMs.")
@click.option("--slack-channel", default=None, help="Or a Slack channel id (C0123ABCD).")
@json_option
@pass_ctx
def users_add(
    ctx: Context,
    email: str,
    role: str,
    name: str,
    timezone: str | None,
    slack_user: str | None,
    slack_channel: str | None,
    as_json: bool,
) -> None:
    """Add a user to the org."""
    spec = UserIn(
        email=email,
        role=role,
        name=name,
        timezone=timezone,
        slack_user=slack_user,
        slack_channel=slack_channel,
    )
    user = ctx.control.users.add(spec)
    report(as_json, user, f"user {user.email} added ({user.role}, org {user.org})")


@users.command("set")
@click.argument("email")
@click.option("--name", default=None, help="Display name.")
@click.option("--timezone", default=None, help="IANA time zone, e.g. Europe/Paris ('' = UTC).")
@click.option("--slack-user", default=None, help="Slack member id (U0123ABCD); '' clears it.")
@click.option("--slack-channel", default=None, help="Slack channel id (C0123ABCD); '' clears.")
@json_option
@pass_ctx
def users_set(ctx: Context, /, email: str, as_json: bool, **fields: str | None) -> None:
    """Change a user's name, time zone or Slack contact (only the options given)."""
    given = {key: value or None for key, value in fields.items() if value is not None}
    if not given:
        raise click.UsageError("nothing to change; give --name, --timezone, --slack-user…")
    if "name" in given:
        given["name"] = fields["name"]
    user = ctx.control.users.update(email, UserUpdate.model_validate(given))
    report(as_json, user, f"user {user.email} changed")


@users.command("list")
@json_option
@pass_ctx
def users_list(ctx: Context, as_json: bool) -> None:
    """List the org's users."""
    service = ctx.control.users
    items = list(every_page(lambda c: service.list(limit=_PAGE, cursor_token=c)))
    columns = ["email", "name", "role", "timezone", "slack_user", "slack_channel", "created_at"]
    listing(items, as_json, columns, "no users")


@users.command("set-role")
@click.argument("email")
@click.argument("role", type=ROLES)
@json_option
@pass_ctx
def users_set_role(ctx: Context, email: str, role: str, as_json: bool) -> None:
    """Change a user's role (their tokens follow at once)."""
    user = ctx.control.users.set_role(email, role)
    report(as_json, user, f"user {user.email} is now {user.role}")


@users.command("remove")
@click.argument("email")
@pass_ctx
def users_remove(ctx: Context, email: str) -> None:
    """Remove a user and revoke every token they hold."""
    ctx.control.users.remove(email)
    click.echo(f"user {email} removed")


@click.group()
def tokens() -> None:
    """API tokens: bearer tokens for the HTTP API, for users or services."""


@tokens.command("create")
@click.option("--user", "user_email", default=None, help="The user it acts for (their role).")
@click.option("--service", default=None, help="Or a service name, for producers and scripts.")
@click.option("--role", type=ROLES, default=None, help="A service token's role [developer].")
@click.option("--name", default="", help="A label to recognise it by.")
@click.option(
    "--expires", default="90d", show_default=True, help="Lifetime (30d, 12h…) or 'never'."
)
@json_option
@pass_ctx
def tokens_create(
    ctx: Context,
    user_email: str | None,
    service: str | None,
    role: str | None,
    name: str,
    expires: str,
    as_json: bool,
) -> None:
    """Create a token and print it once; it cannot be shown again."""
    created = ctx.control.tokens.create(
        TokenIn(user=user_email, service=service, role=role, name=name, expires_in=expires)
    )
    if as_json:
        report(True, created, "")
        return
    expires_at = created.expires_at
    until = f"expires {expires_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if expires_at else "never"
    click.echo(created.token)
    click.echo(
        f"token {created.id} for {created.user or 'service ' + str(created.service)} "
        f"({created.role}, {until}); store it now, it is not shown again",
        err=True,
    )


@tokens.command("list")
@json_option
@pass_ctx
def tokens_list(ctx: Context, as_json: bool) -> None:
    """List the org's tokens (never the tokens themselves)."""
    service = ctx.control.tokens
    items = list(every_page(lambda c: service.list(limit=_PAGE, cursor_token=c)))
    listing(
        items,
        as_json,
        ["id", "prefix", "name", "user", "service", "role", "expires_at", "revoked_at"],
        "no tokens",
    )


@tokens.command("revoke")
@click.argument("token_id", type=int)
@pass_ctx
def tokens_revoke(ctx: Context, token_id: int) -> None:
    """Revoke a token: it is refused from its next request on."""
    ctx.control.tokens.revoke(token_id)
    click.echo(f"token {token_id} revoked")
