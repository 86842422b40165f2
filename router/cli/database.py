"""``eventrouter db``: the schema and the key that seals destination secrets."""

from __future__ import annotations

import click

from eventrouter.router.cli.context import Context, pass_ctx
from eventrouter.router.cli.output import json_option, report


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """Create the database if missing and migrate it to the newest schema."""
    from eventrouter.router.crypto import write_key_file
    from eventrouter.router.db.engine import safe_url
    from eventrouter.router.db.migrate import create_database_if_missing, current_revision, upgrade

    url = ctx.settings.database_url
    created = create_database_if_missing(url)
    upgrade(url)
    verb = "created and migrated" if created else "migrated"
    click.echo(f"database {safe_url(url)} {verb} to revision {current_revision(url)}")
    if ctx.settings.secret_keys is None:
        path = write_key_file(ctx.settings.secret_key_file)
        click.echo(
            f"generated the key that encrypts destination secrets at {path}; keep it safe and "
            "give every router and worker host the same key (the file, or its contents in "
            "EVENTROUTER_SECRET_KEY)"
        )


@db.command("reencrypt")
@pass_ctx
def db_reencrypt(ctx: Context) -> None:
    """Encrypt all destination secrets with the first key in EVENTROUTER_SECRET_KEY."""
    count = ctx.control.destinations.reencrypt_all()
    click.echo(f"{count} destination(s) re-encrypted with the first key")


@db.command("prune")
@click.option(
    "--older-than",
    default=None,
    help="Drop the history of the weeks that ended this long ago, e.g. 30d "
    "(default: EVENTROUTER_RETENTION).",
)
@click.option("--dry-run", is_flag=True, help="Show what would be dropped; drop nothing.")
@json_option
@pass_ctx
def db_prune(ctx: Context, older_than: str | None, dry_run: bool, as_json: bool) -> None:
    """Drop old events, deliveries and attempts, a whole week (Monday to Sunday, UTC)
    at a time.

    A week with a delivery still pending or delivering is kept whole; the next prune
    (or the routers' hourly retention) drops it once that delivery has finished.
    """
    result = ctx.control.retention.prune(older_than, dry_run=dry_run)
    lines = []
    verb = "would drop" if dry_run else "dropped"
    if result.dropped:
        lines.append(
            f"{verb} {len(result.dropped)} week(s) of history that ended more than "
            f"{result.older_than} ago (weeks of {', '.join(map(str, result.dropped))}; "
            f"{_size(result.freed_bytes)})"
        )
    else:
        lines.append(f"no week of history ended more than {result.older_than} ago")
    for kept in result.kept:
        lines.append(
            f"kept the week of {kept.week}: {kept.open_deliveries} of its deliveries are still "
            "pending or delivering; it is dropped once they finish (or cancel them)"
        )
    for week in result.busy:
        lines.append(f"skipped the week of {week}: its tables were busy; run the prune again")
    if result.stray_events:
        lines.append(f"deleted {result.stray_events} event(s) outside the week partitions")
    report(as_json, result, "\n".join(lines))


def _size(size: float) -> str:
    units = ("bytes", "kB", "MB", "GB", "TB")
    unit = 0
    while size >= 1024 and unit < len(units) - 1:
        size /= 1024
        unit += 1
    return f"{size:.0f} bytes" if unit == 0 else f"{size:.1f} {units[unit]}"
