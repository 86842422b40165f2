"""``eventrouter channels``: named regex patterns over event names."""

from __future__ import annotations

import click

from eventrouter.router.cli.context import Context, pass_ctx
from eventrouter.router.cli.output import env_change, given, json_option, listing, report
from eventrouter.router.errors import ConfigError
from eventrouter.router.models.configuration import ChannelIn, ChannelUpdate


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


@channels.command("update")
@click.argument("name")
@click.option("--pattern", default=None, help="New RE2 regex, matched against the whole name.")
@click.option("--env", default=None, help="Only events of this environment.")
@click.option("--all-envs", is_flag=True, help="Events of every environment (drops --env).")
@click.option("--description", default=None, help="New free text shown in listings.")
@json_option
@pass_ctx
def channels_update(
    ctx: Context,
    name: str,
    pattern: str | None,
    env: str | None,
    all_envs: bool,
    description: str | None,
    as_json: bool,
) -> None:
    """Change a channel in place; its subscriptions keep it, running routers follow."""
    change = ChannelUpdate.model_validate(
        given(pattern=pattern, description=description) | env_change(env, all_envs)
    )
    if not change.model_fields_set:
        raise ConfigError("nothing to change: give --pattern, --env, --all-envs or --description")
    channel = ctx.control.channels.update(name, change)
    report(
        as_json,
        channel,
        f"channel {name} updated (pattern {channel.pattern}, "
        f"{'env ' + channel.env if channel.env else 'all environments'})",
    )


@channels.command("remove")
@click.argument("name")
@pass_ctx
def channels_remove(ctx: Context, name: str) -> None:
    """Remove a channel that no subscription uses."""
    ctx.control.channels.remove(name)
    click.echo(f"channel {name} removed")
