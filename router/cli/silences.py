"""``eventrouter silences``: runtime mutes with a filter, a time range and a comment."""

from __future__ import annotations

from datetime import datetime

import click

from eventrouter.router.cli.context import Context, pass_ctx
from eventrouter.router.cli.output import json_option, listing, report
from eventrouter.router.models.rules import SilenceIn


@click.group()
def silences() -> None:
    """Silences: mute matching events for a while (recorded as 'silenced')."""


@silences.command("add")
@click.option(
    "--filter",
    "silence_filter",
    required=True,
    help="CEL over name, org, env, payload, received_at; 'true' mutes everything.",
)
@click.option("--channel", default=None, help="Only events that match this channel.")
@click.option("--duration", default=None, help="From now, e.g. 2h.")
@click.option("--until", "until", type=click.DateTime(), default=None, help="End (ISO, UTC).")
@click.option("--every", default=None, help="Recurring window, e.g. 'sat,sun 00:00-24:00'.")
@click.option("--timezone", default=None, help="IANA zone of --every [default: UTC].")
@click.option("--comment", required=True, help="Why; shown with every silenced event.")
@json_option
@pass_ctx
def silences_add(
    ctx: Context,
    silence_filter: str,
    channel: str | None,
    duration: str | None,
    until: datetime | None,
    every: str | None,
    timezone: str | None,
    comment: str,
    as_json: bool,
) -> None:
    """Add a silence (one of --duration, --until or --every)."""
    silence = ctx.control.silences.add(
        SilenceIn(
            filter=silence_filter,
            channel=channel,
            duration=duration,
            ends_at=until,
            every=every,
            timezone=timezone,
            comment=comment,
        )
    )
    span = (
        f"every {silence.every} ({silence.timezone})"
        if silence.every
        else f"until {silence.ends_at:%Y-%m-%d %H:%M:%S} UTC"
        if silence.ends_at
        else ""
    )
    report(as_json, silence, f"silence {silence.id} added: {silence.filter} {span}".rstrip())


@silences.command("list")
@click.option("--all", "include_expired", is_flag=True, help="Expired ones too.")
@json_option
@pass_ctx
def silences_list(ctx: Context, include_expired: bool, as_json: bool) -> None:
    """List silences (active and upcoming; --all for expired ones too)."""
    listing(
        ctx.control.silences.list(include_expired=include_expired),
        as_json,
        ["id", "active", "filter", "channel", "ends_at", "every", "comment"],
        "no silences",
    )


@silences.command("expire")
@click.argument("silence_id", type=int)
@pass_ctx
def silences_expire(ctx: Context, silence_id: int) -> None:
    """End a silence now."""
    ctx.control.silences.expire(silence_id)
    click.echo(f"silence {silence_id} expired")
