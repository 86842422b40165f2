"""``eventrouter deliveries`` and ``retry``: the delivery log, and sending failures again."""

from __future__ import annotations

import click

from eventrouter.router.cli.context import Context, pass_ctx
from eventrouter.router.cli.output import json_option, listing, report
from eventrouter.router.control.deliveries import STATUSES
from eventrouter.router.durations import parse_duration
from eventrouter.router.errors import ConfigError


@click.command("deliveries")
@click.option("--status", type=click.Choice(STATUSES), default=None)
@click.option("--destination", default=None, help="Destination name.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@json_option
@pass_ctx
def deliveries(
    ctx: Context, status: str | None, destination: str | None, limit: int, as_json: bool
) -> None:
    """Recent deliveries, newest first."""
    page = ctx.control.deliveries.list(status=status, destination=destination, limit=limit)
    rows = [
        {
            **entry.model_dump(),
            "next_attempt_at": entry.next_attempt_at if entry.status == "pending" else None,
        }
        for entry in page.items
    ]
    listing(
        page.items,
        as_json,
        ["id", "event", "destination", "status", "attempt_count", "next_attempt_at", "last_error"],
        "no deliveries",
        rows=rows,
    )


@click.command("retry")
@click.argument("delivery_ids", nargs=-1, type=int)
@click.option(
    "--failed",
    "all_failed",
    is_flag=True,
    help="Retry every failed or cancelled delivery (see --destination, --since).",
)
@click.option("--destination", default=None, help="With --failed: only this destination.")
@click.option("--since", default=None, help="With --failed: only those that ended within, e.g. 1h.")
@json_option
@pass_ctx
def retry(
    ctx: Context,
    delivery_ids: tuple[int, ...],
    all_failed: bool,
    destination: str | None,
    since: str | None,
    as_json: bool,
) -> None:
    """Send failed or cancelled deliveries again now (a router must be running)."""
    if all_failed == bool(delivery_ids):
        raise ConfigError("give delivery ids or --failed (not both)")
    if not all_failed and (destination or since):
        raise ConfigError("--destination and --since go with --failed")
    if all_failed:
        since_seconds = None
        if since is not None:
            try:
                since_seconds = parse_duration(since)
            except ValueError as exc:
                raise ConfigError(f"--since: {exc}") from None
        ids = ctx.control.deliveries.retry_failed(
            destination=destination, since_seconds=since_seconds
        )
    else:
        ids = ctx.control.deliveries.retry(delivery_ids)
    shown = ", ".join(map(str, ids[:20])) + (" …" if len(ids) > 20 else "")
    report(
        as_json,
        {"retried": ids},
        f"{len(ids)} deliveries queued for retry" + (f": {shown}" if ids else ""),
    )
