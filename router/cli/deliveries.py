"""``eventrouter deliveries`` and ``retry``: the delivery log, and sending failures again."""

from __future__ import annotations

import click

from eventrouter.router.cli.context import Context, pass_ctx, warn_if_unconfigured
from eventrouter.router.cli.output import json_option, listing, plural, relative, report
from eventrouter.router.control.deliveries import STATUSES
from eventrouter.router.durations import parse_duration
from eventrouter.router.errors import ConfigError


@click.command("deliveries")
@click.option("--status", type=click.Choice(STATUSES), default=None)
@click.option("--destination", default=None, help="Destination name.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--show-tests", is_flag=True, help="Include test notifications.")
@json_option
@pass_ctx
def deliveries(
    ctx: Context,
    status: str | None,
    destination: str | None,
    limit: int,
    show_tests: bool,
    as_json: bool,
) -> None:
    """Recent deliveries, latest change first."""
    page = ctx.control.deliveries.list(
        status=status, destination=destination, limit=limit, show_tests=show_tests
    )
    if not page.items:
        warn_if_unconfigured(ctx)
    rows = [
        {
            **entry.model_dump(),
            "next_attempt": (
                relative(entry.next_attempt_at) if entry.next_attempt_at is not None else None
            ),
        }
        for entry in page.items
    ]
    listing(
        page.items,
        as_json,
        [
            "id",
            "event_id",
            "event",
            "destination",
            "status",
            "attempt_count",
            "next_attempt",
            "updated_at",
            "last_error",
        ],
        "no deliveries",
        rows=rows,
    )


@click.command("retry")
@click.argument("ids", nargs=-1)
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
    ids: tuple[str, ...],
    all_failed: bool,
    destination: str | None,
    since: str | None,
    as_json: bool,
) -> None:
    """Send failed or cancelled deliveries again now (a router must be running).

    IDS are delivery ids (numbers, from 'eventrouter deliveries') or event ids (or their
    prefixes, from 'eventrouter history'): an event's failed deliveries are all retried.
    """
    if not all_failed and not ids:
        raise ConfigError(
            "say what to retry: delivery ids, event ids, or --failed "
            "(e.g. eventrouter retry --failed --since 1h)"
        )
    if all_failed and ids:
        raise ConfigError("give ids or --failed, not both")
    if not all_failed and (destination or since):
        raise ConfigError("--destination and --since go with --failed")
    if all_failed:
        since_seconds = None
        if since is not None:
            try:
                since_seconds = parse_duration(since)
            except ValueError as exc:
                raise ConfigError(f"--since: {exc}") from None
        retried = ctx.control.deliveries.retry_failed(
            destination=destination, since_seconds=since_seconds
        )
        why = (
            ctx.control.deliveries.why_none_retried(since_seconds=since_seconds)
            if not retried
            else ""
        )
    else:
        delivery_ids = [int(i) for i in ids if i.isdigit()]
        retried = ctx.control.deliveries.retry(delivery_ids) if delivery_ids else []
        for event_id in (i for i in ids if not i.isdigit()):
            retried += ctx.control.deliveries.retry_event(event_id)
        why = ""
    shown = ", ".join(map(str, retried[:20])) + (" …" if len(retried) > 20 else "")
    report(
        as_json,
        {"retried": retried},
        f"{plural(len(retried), 'delivery')} queued for retry"
        + (f": {shown}" if retried else f" ({why})"),
    )
