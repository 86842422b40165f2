"""``eventrouter send``, ``history`` and ``show``: publish an event, read the log."""

from __future__ import annotations

import json
from typing import Any

import click

from eventrouter.router.cli.context import Context, pass_ctx
from eventrouter.router.cli.output import cell, emit_json, json_option, listing, printable
from eventrouter.router.errors import InvalidEvent


@click.command("send")
@click.argument("event_name")
@click.option("--payload", default=None, help='JSON object, e.g. \'{"invoice": "in_1"}\'.')
@click.option("--env", default=None, help="Environment of the event.")
@click.option(
    "--idempotency-key",
    default=None,
    help="A key used before in the org: prints the first event's id, sends nothing.",
)
@pass_ctx
def send(
    ctx: Context,
    event_name: str,
    payload: str | None,
    env: str | None,
    idempotency_key: str | None,
) -> None:
    """Publish an event and print its id."""
    data: Any = None
    if payload is not None:
        try:
            data = json.loads(payload)
        except ValueError as exc:
            raise InvalidEvent(f"--payload is not valid JSON: {exc}") from None
    event_id = ctx.control.events.publish(
        event_name, data, env=env, idempotency_key=idempotency_key
    )
    click.echo(event_id)


@click.command("history")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--name", "name_regex", default=None, help="Only names matching this regex.")
@click.option("--env", default=None)
@json_option
@pass_ctx
def history(
    ctx: Context, limit: int, name_regex: str | None, env: str | None, as_json: bool
) -> None:
    """Recent events with their delivery counts."""
    page = ctx.control.events.history(limit=limit, name_regex=name_regex, env=env)
    rows = [
        {
            "event_id": e.id,
            "received_at": e.received_at,
            "name": f"{e.name} (duplicate)" if e.duplicate_of else e.name,
            "env": e.env,
            "total": e.total,
            "succeeded": e.succeeded,
            "pending": e.pending,
            "failed": e.failed + e.cancelled,
        }
        for e in page.items
    ]
    listing(
        page.items,
        as_json,
        ["event_id", "received_at", "name", "env", "total", "succeeded", "pending", "failed"],
        "no events yet",
        rows=rows,
    )


@click.command("show")
@click.argument("event_id")
@json_option
@pass_ctx
def show(ctx: Context, event_id: str, as_json: bool) -> None:
    """One event: payload, deliveries and every attempt."""
    event = ctx.control.events.show(event_id)
    if as_json:
        emit_json(event)
        return
    click.echo(f"event     {event.id}")
    click.echo(f"name      {event.name}")
    click.echo(f"org/env   {event.org} / {event.env or '-'}")
    click.echo(f"received  {cell(event.received_at)}")
    if event.duplicate_of:
        click.echo(
            f"duplicate of {event.duplicate_of} (idempotency key "
            f"{printable(repr(event.idempotency_key))}); not delivered again"
        )
    click.echo("payload")
    text = json.dumps(event.payload, indent=2, ensure_ascii=False)
    click.echo("  " + printable(text).replace("\n", "\n  "))
    for dc in event.decisions:
        click.echo(
            f"decision {dc.subscription or f'(removed {dc.subscription_id})'}: "
            f"{dc.decision}"
            + (f" — {printable(dc.reason)}" if dc.reason else "")
            + (
                f" → delivery {', '.join(map(str, dc.digest_deliveries))}"
                if dc.digest_deliveries
                else ""
            )
        )
    if not event.deliveries:
        click.echo("deliveries: none" + ("" if event.decisions else " (no subscription matched)"))
    for d in event.deliveries:
        click.echo(
            f"delivery {d.id} → {d.destination or '(removed)'}: {d.status}, "
            f"{d.attempt_count} attempt(s)"
            + (f", next at {cell(d.next_attempt_at)}" if d.status == "pending" else "")
        )
        for a in d.attempts:
            status = f"HTTP {a.http_status}" if a.http_status else "no HTTP status"
            line = (
                f"  #{a.attempt_number} {cell(a.started_at)} {a.outcome:<9} "
                f"{status} {a.duration_ms}ms"
            )
            if a.error:
                line += f"  {printable(a.error)}"
            click.echo(line)
            if a.response_body and a.outcome != "succeeded":
                click.echo(f"     response: {cell(a.response_body)}")
