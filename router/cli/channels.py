"""``eventrouter channels``: named regex patterns over event names."""

from __future__ import annotations

import click

from eventrouter.router.cli.context import Context, pass_ctx
from eventrouter.router.cli.output import json_option, listing, report
from eventrouter.router.models import ChannelIn


@click.group()
def channels() -> None:
    """Channels: named regex patterns over event names."""


@channels.command("add")
@click.argument("name")
@click.option("--pattern", required=True, help="RE2 regex, matched against the whole name.")
@click.option("--env", default=None, help="Only events of this environment.")
@click.option("--description", default="", help="Free text shown in listings.")
@json_option
@pass_ctx
def channels_add(
    ctx: Context, name: str, pattern: str, env: str | None, description: str, as_json: bool
) -> None:
    """Add a channel."""
    channel = ctx.control.channels.add(
        ChannelIn(name=name, pattern=pattern, env=env, description=description)
    )
    report(as_json, channel, f"channel {name} added (pattern {pattern})")


@channels.command("list")
@json_option
@pass_ctx
def channels_list(ctx: Context, as_json: bool) -> None:
    """List channels, built-in system channels first."""
    listing(
        ctx.control.channels.list(),
        as_json,
        ["name", "pattern", "env", "subscriptions", "description"],
        "no channels",
    )


@channels.command("remove")
@click.argument("name")
@pass_ctx
def channels_remove(ctx: Context, name: str) -> None:
    """Remove a channel that no subscription uses."""
    ctx.control.channels.remove(name)
    click.echo(f"channel {name} removed")
