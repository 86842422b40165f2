"""``eventrouter spool status|inspect|drain``: a background publisher's disk spool, for an
operator on a host whose producer died or cannot reach Redis."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import click

from eventrouter.router.cli.context import Context, pass_ctx
from eventrouter.router.cli.output import json_option, listing, report
from eventrouter.router.client import append
from eventrouter.router.errors import ConfigError, PublishError
from eventrouter.router.spool import FILE_NAME, Spool

_DIR = click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))


def _open(ctx: Context, directory: Path | None) -> Spool:
    """The spool in ``directory`` (default ``EVENTROUTER_SPOOL_DIR``); it must exist."""
    settings = ctx.settings
    path = (directory or Path(settings.spool_dir)).expanduser()
    if not (path / FILE_NAME).is_file():
        raise ConfigError(
            f"no spool in {path} (no {FILE_NAME}): give the directory a Publisher used "
            "(spool_dir, EVENTROUTER_SPOOL_DIR)"
        )
    return Spool(path, max_bytes=settings.spool_max_bytes, sync=settings.spool_sync)


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@click.group("spool")
def spool() -> None:
    """Events a background Publisher keeps on disk while Redis is unreachable."""


@spool.command("status")
@_DIR
@json_option
@pass_ctx
def status(ctx: Context, directory: Path | None, as_json: bool) -> None:
    """How many events wait in the spool, how old, how full; drops so far."""
    state = _open(ctx, directory).status()
    document = {
        "path": str(state.path),
        "events": state.events,
        "bytes": state.bytes,
        "max_bytes": state.max_bytes,
        "dropped": state.dropped,
        "oldest": _when(state.oldest) if state.oldest else None,
        "newest": _when(state.newest) if state.newest else None,
    }
    full = state.bytes / state.max_bytes * 100
    report(
        as_json,
        document,
        f"{state.path}: {state.events} event{'' if state.events == 1 else 's'} waiting, "
        f"{state.bytes:,} of {state.max_bytes:,} bytes ({full:.1f}% full); "
        f"oldest {_when(state.oldest)}, newest {_when(state.newest)}; "
        f"{state.dropped} dropped so far",
    )


@spool.command("inspect")
@_DIR
@click.option("--limit", type=click.IntRange(1, 100_000), default=20, show_default=True)
@json_option
@pass_ctx
def inspect(ctx: Context, directory: Path | None, limit: int, as_json: bool) -> None:
    """The oldest events in the spool (the next to be sent)."""
    items = []
    for spooled in _open(ctx, directory).head(limit):
        try:
            entry = json.loads(spooled.entry)
        except ValueError:
            entry = {}
        items.append(
            {
                "event_id": spooled.event_id,
                "spooled_at": _when(spooled.spooled_at),
                "name": entry.get("name"),
                "org": entry.get("org"),
                "env": entry.get("env"),
                "idempotency_key": entry.get("idempotency_key"),
                "bytes": len(spooled.entry.encode()),
                **({"payload": entry.get("payload")} if as_json else {}),
            }
        )
    listing(
        items,
        as_json,
        ["event_id", "spooled_at", "name", "org", "env", "bytes"],
        "the spool is empty",
    )


@spool.command("drain")
@_DIR
@click.option("--batch", type=click.IntRange(1, 10_000), default=500, show_default=True)
@pass_ctx
def drain(ctx: Context, directory: Path | None, batch: int) -> None:
    """Send every spooled event to Redis now, oldest first (EVENTROUTER_REDIS_URL).

    Safe while a Publisher also drains it: an event sent twice is stored once.
    """
    opened = _open(ctx, directory)
    sent = 0
    while events := opened.head(batch):
        try:
            append(ctx.settings, [e.envelope for e in events])
        except PublishError as exc:
            left = opened.count()
            raise PublishError(f"{exc} (sent {sent} events; {left} still in the spool)") from None
        opened.remove(events)
        sent += len(events)
    click.echo(
        f"sent {sent} event{'' if sent == 1 else 's'} from {opened.path}; the spool is empty"
    )
