"""``eventrouter db``: the schema and the key that seals destination secrets."""

from __future__ import annotations

import click

from eventrouter.router.cli.context import Context, pass_ctx


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
