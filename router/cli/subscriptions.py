"""``eventrouter subscriptions``: which channels go to which destinations."""

from __future__ import annotations

import click

from eventrouter.router.cli.context import Context, pass_ctx
from eventrouter.router.cli.output import json_option, listing, report
from eventrouter.router.models import SubscriptionIn


@click.group()
def subscriptions() -> None:
    """Subscriptions: which channels go to which destinations."""


@subscriptions.command("add")
@click.argument("name")
@click.option("--channel", "channel_names", multiple=True, required=True, help="Repeatable.")
@click.option(
    "--destination", "destination_names", multiple=True, required=True, help="Repeatable."
)
@click.option("--env", default=None, help="Only events of this environment [default: all].")
@json_option
@pass_ctx
def subscriptions_add(
    ctx: Context,
    name: str,
    channel_names: tuple[str, ...],
    destination_names: tuple[str, ...],
    env: str | None,
    as_json: bool,
) -> None:
    """Add a subscription."""
    sub = ctx.control.subscriptions.add(
        SubscriptionIn(
            name=name, channels=list(channel_names), destinations=list(destination_names), env=env
        )
    )
    scope = f"env {env}" if env else "all environments"
    report(
        as_json,
        sub,
        f"subscription {name} added: {', '.join(channel_names)} → "
        f"{', '.join(destination_names)} ({scope})",
    )


@subscriptions.command("list")
@json_option
@pass_ctx
def subscriptions_list(ctx: Context, as_json: bool) -> None:
    """List subscriptions."""
    listing(
        ctx.control.subscriptions.list(),
        as_json,
        ["name", "env", "channels", "destinations", "enabled"],
        "no subscriptions",
    )


@subscriptions.command("enable")
@click.argument("name")
@pass_ctx
def subscriptions_enable(ctx: Context, name: str) -> None:
    """Enable a subscription."""
    ctx.control.subscriptions.set_enabled(name, True)
    click.echo(f"subscription {name} enabled")


@subscriptions.command("disable")
@click.argument("name")
@pass_ctx
def subscriptions_disable(ctx: Context, name: str) -> None:
    """Disable a subscription."""
    ctx.control.subscriptions.set_enabled(name, False)
    click.echo(f"subscription {name} disabled")


@subscriptions.command("remove")
@click.argument("name")
@pass_ctx
def subscriptions_remove(ctx: Context, name: str) -> None:
    """Remove a subscription."""
    ctx.control.subscriptions.remove(name)
    click.echo(f"subscription {name} removed")
