"""``eventrouter send``, ``history`` and ``show``: publish an event, read the log."""

from __future__ import annotations

import json
from typing import Any

import click

from eventrouter.router.cli.context import Context, pass_ctx, warn_if_unconfigured
from eventrouter.router.cli.output import (
    cell,
    emit_json,
    json_option,
    listing,
    plural,
    printable,
    relative,
)
from eventrouter.router.errors import InvalidEvent
from eventrouter.router.models.history import Attempt, EventDelivery
from eventrouter.router.models.rules import Decision


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
@click.option(
    "--name",
    "name_regex",
    default=None,
    help="Only names this RE2 pattern matches in full, as channels do (payment:.*).",
)
@click.option("--env", default=None)
@click.option(
    "--hide-system/--show-system",
    default=True,
    show_default=True,
    help="Leave out system events (delivery:failed, destination:disabled) and test sends.",
)
@json_option
@pass_ctx
def history(
    ctx: Context,
    limit: int,
    name_regex: str | None,
    env: str | None,
    hide_system: bool,
    as_json: bool,
) -> None:
    """Recent events with their delivery counts."""
    page = ctx.control.events.history(
        limit=limit, name_regex=name_regex, env=env, hide_system=hide_system
    )
    if not page.items:
        warn_if_unconfigured(ctx)
    rows = [
        {
            "event_id": e.id,
            "received_at": e.received_at,
            "name": f"{e.name} (duplicate)" if e.duplicate_of else e.name,
            "env": e.env,
            "total": e.total,
            "succeeded": e.succeeded,
            "pending": e.pending,
            "failed": e.failed,
            "cancelled": e.cancelled,
        }
        for e in page.items
    ]
    listing(
        page.items,
        as_json,
        [
            "event_id",
            "received_at",
            "name",
            "env",
            "total",
            "succeeded",
            "pending",
            "failed",
            "cancelled",
        ],
        "no events yet",
        rows=rows,
    )


@click.command("show")
@click.argument("event_id")
@json_option
@pass_ctx
def show(ctx: Context, event_id: str, as_json: bool) -> None:
    """One event: payload, deliveries and every attempt (EVENT_ID may be a prefix)."""
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
        who = f" {printable(dc.recipient)}" if dc.recipient else ""
        when = ""
        if dc.until is not None and dc.decision in (Decision.HELD, Decision.DIGESTED):
            when = f" {'until' if dc.decision == Decision.HELD else 'at'} {cell(dc.until)}"
        click.echo(
            f"decision {dc.subscription or f'(removed {dc.subscription_id})'}{who}: "
            f"{dc.decision}"
            + (f" — {printable(dc.reason)}" if dc.reason else "")
            + when
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
            f"{plural(d.attempt_count, 'attempt')}" + next_step(d)
        )
        for a in d.attempts:
            click.echo("  " + attempt_line(a, d))
            if a.response_body:
                click.echo(f"     response: {cell(a.response_body)}")


def next_step(d: EventDelivery) -> str:
    """What comes next for a delivery, in words."""
    if d.status == "pending" and d.next_attempt_at is not None:
        return f"; next attempt {relative(d.next_attempt_at)} ({cell(d.next_attempt_at)})"
    if d.status == "delivering":
        return "; being sent now"
    if d.status in ("failed", "cancelled") and d.last_error:
        return f"; {printable(d.last_error)}"
    return ""


def attempt_line(a: Attempt, d: EventDelivery) -> str:
    """What happened in one attempt (the status, if any, once), then what came of it."""
    happened = {
        "succeeded": "succeeded",
        "retry": "failed, retryable",
        "failed": "failed, permanent",
    }.get(a.outcome, a.outcome)
    line = f"#{a.attempt_number} {cell(a.started_at)}  {happened}"
    if a.http_status and not (a.error and str(a.http_status) in a.error):
        line += f", HTTP {a.http_status}"
    line += f", {a.duration_ms} ms"
    if a.error:
        line += f": {printable(a.error)}"
    last = a is d.attempts[-1]
    if a.outcome != "succeeded":
        if not last:
            line += " → tried again"
        elif d.status == "failed":
            line += " → gave up"
        elif d.status == "cancelled":
            line += " → cancelled"
        elif d.status == "pending":
            line += " → retry scheduled"
    return line
