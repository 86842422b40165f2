"""``eventrouter destinations``: where deliveries go.

``destinations add`` takes every kind's options, built from the kinds' own declarations
(``router/destinations/<kind>.py``): a new kind brings its flags with it. Options of another
kind are refused, not ignored.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from eventrouter.router.cli.context import Context, pass_ctx
from eventrouter.router.cli.output import (
    SERVICE_EXIT,
    cell,
    emit_json,
    json_option,
    listing,
    printable,
)
from eventrouter.router.destinations import COMMON, KINDS, Option, build_changes, build_config
from eventrouter.router.durations import parse_duration
from eventrouter.router.errors import ConfigError
from eventrouter.router.models.configuration import Destination, DestinationIn, DestinationUpdate

_TYPES: dict[str, Any] = {
    "text": click.STRING,
    "number": click.FLOAT,
    "integer": click.INT,
    "port": click.IntRange(1, 65535),
}


def _click_option(option: Option, help_text: str) -> click.Option:
    kind: Any = (
        click.Choice(option.choices, case_sensitive=False)
        if option.type == "choice"
        else _TYPES.get(option.type, click.STRING)
    )
    return click.Option(
        [option.cli_flag, option.name],
        type=None if option.type == "flag" else kind,
        is_flag=option.type == "flag",
        multiple=option.multiple,
        metavar=option.metavar,
        default=None,
        help=help_text,
    )


def kind_options() -> list[click.Option]:
    """One click option per option name across kinds; its help says which kinds take it."""
    uses: dict[str, list[tuple[str, Option]]] = {}
    for kind in KINDS.values():
        for option in kind.options:
            uses.setdefault(option.name, []).append((kind.name, option))
    params = [_click_option(option, option.help) for option in COMMON]
    for same in uses.values():
        help_text = " ".join(f"{kind}: {option.help}" for kind, option in same)
        params.append(_click_option(same[0][1], help_text))
    return params


def _given(click_ctx: click.Context) -> dict[str, Any]:
    """The options the user actually gave (not defaults), by parameter name."""
    return {
        name: value
        for name, value in click_ctx.params.items()
        if click_ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)
    }


def _state(destination: Destination) -> str:
    if destination.enabled:
        return "enabled"
    return f"disabled: {destination.disabled_reason}" if destination.disabled_reason else "disabled"


@click.group()
def destinations() -> None:
    """Destinations: where deliveries go."""


@click.pass_context
def destinations_add(click_ctx: click.Context, /, **options: Any) -> None:
    """Add a destination; options are checked for the chosen --type."""
    ctx = click_ctx.find_object(Context)
    assert ctx is not None
    name: str = options["name"]
    kind: str = options["kind"]
    own = {"name", "kind", "retry_schedule", "generate_secret", "as_json"}
    given = {k: v for k, v in _given(click_ctx).items() if k not in own}
    destination = ctx.control.destinations.add(
        DestinationIn(
            name=name,
            type=kind,
            config=build_config(kind, given),
            retry_schedule=options["retry_schedule"],
            generate_secret=bool(options["generate_secret"]),
        )
    )
    if options["as_json"]:
        emit_json(destination)
        return
    click.echo(f"destination {name} added ({kind}: {destination.target})")
    if destination.signing_secret is not None:
        click.echo(f"signing secret: {destination.signing_secret}")
        click.echo("give it to the receiver now; listings show only its last 4 characters")


destinations.add_command(
    click.Command(
        "add",
        callback=destinations_add,
        help=destinations_add.__doc__,
        params=[
            click.Argument(["name"]),
            click.Option(
                ["--type", "kind"],
                required=True,
                type=click.Choice(list(KINDS)),
                help="Destination kind.",
            ),
            click.Option(
                ["--retry-schedule"],
                default=None,
                help="Delays between attempts (1s,5s,1m) [default: EVENTROUTER_RETRY_SCHEDULE].",
            ),
            click.Option(
                ["--generate-secret"],
                is_flag=True,
                default=False,
                help="webhook: make a Standard Webhooks signing secret (printed once).",
            ),
            *kind_options(),
            click.Option(["--json", "as_json"], is_flag=True, help="Print one JSON document."),
        ],
    )
)


@click.pass_context
def destinations_update(click_ctx: click.Context, /, **options: Any) -> None:
    """Change a destination in place: give only what changes (its type cannot). Open
    deliveries and history stay; the next attempt uses the new settings.

    Repeatable options replace the stored list (--to); --header adds or replaces one
    header, and --header 'Name:' (no value) removes it.
    """
    ctx = click_ctx.find_object(Context)
    assert ctx is not None
    name: str = options["name"]
    own = {"name", "retry_schedule", "default_retry_schedule", "as_json"}
    config_options = {k: v for k, v in _given(click_ctx).items() if k not in own}
    change: dict[str, Any] = {}
    if config_options:
        kind = ctx.control.destinations.get(name).type
        change["config"] = build_changes(kind, config_options)
    if options["retry_schedule"] is not None and options["default_retry_schedule"]:
        raise ConfigError("give --retry-schedule or --default-retry-schedule, not both")
    if options["retry_schedule"] is not None:
        change["retry_schedule"] = options["retry_schedule"]
    if options["default_retry_schedule"]:
        change["retry_schedule"] = None
    if not change:
        raise ConfigError(
            f"nothing to change: give the options to change (see 'eventrouter destinations "
            f"update --help'), e.g. eventrouter destinations update {name} --timeout 5"
        )
    destination = ctx.control.destinations.update(name, DestinationUpdate.model_validate(change))
    if options["as_json"]:
        emit_json(destination)
        return
    click.echo(f"destination {name} updated ({destination.type}: {destination.target})")


destinations.add_command(
    click.Command(
        "update",
        callback=destinations_update,
        help=destinations_update.__doc__,
        params=[
            click.Argument(["name"]),
            click.Option(
                ["--retry-schedule"], default=None, help="New delays between attempts (1s,5s,1m)."
            ),
            click.Option(
                ["--default-retry-schedule"],
                is_flag=True,
                default=False,
                help="Use EVENTROUTER_RETRY_SCHEDULE again.",
            ),
            *kind_options(),
            click.Option(["--json", "as_json"], is_flag=True, help="Print one JSON document."),
        ],
    )
)


@destinations.command("list")
@json_option
@pass_ctx
def destinations_list(ctx: Context, as_json: bool) -> None:
    """List destinations (secrets are masked)."""
    found = ctx.control.destinations.list()
    default = f"default ({ctx.settings.retry_schedule})"
    rows = [
        {
            "name": d.name,
            "type": d.type,
            "target": d.target,
            "state": _state(d),
            "retry_schedule": d.retry_schedule or default,
        }
        for d in found
    ]
    listing(
        found,
        as_json,
        ["name", "type", "target", "state", "retry_schedule"],
        "no destinations",
        rows=rows,
    )


@destinations.command("rotate-secret")
@click.argument("name")
@click.option("--secret", default=None, help="The new whsec_… secret [default: generate one].")
@click.option(
    "--grace",
    default="24h",
    show_default=True,
    help="How long the old secret keeps co-signing (0 drops it now).",
)
@click.option("--force", is_flag=True, help="Turn signing on for an unsigned destination.")
@json_option
@pass_ctx
def destinations_rotate_secret(
    ctx: Context, name: str, secret: str | None, grace: str, force: bool, as_json: bool
) -> None:
    """Give a webhook a new signing secret; the old one co-signs during the grace period."""
    try:
        grace_seconds = parse_duration(grace)
    except ValueError as exc:
        raise ConfigError(f"--grace: {exc}") from None
    rotated = ctx.control.destinations.rotate_secret(
        name, secret=secret, grace_seconds=grace_seconds, force=force
    )
    if as_json:
        emit_json(rotated)
        return
    click.echo(f"destination {name}: new signing secret {rotated.secret}")
    until = rotated.previous_valid_until
    click.echo(
        f"the previous secret co-signs until {cell(until)}"
        if until
        else "no previous secret signs any more"
    )


@destinations.command("test")
@click.argument("name")
@click.option("--env", default=None, help="Environment of the test event.")
@json_option
@pass_ctx
def destinations_test(ctx: Context, name: str, env: str | None, as_json: bool) -> None:
    """Send a test notification now, the way a worker would, and print what happened.

    Exits 0 when the provider accepted it, 1 otherwise. The attempt is recorded
    (event 'eventrouter:test'), so 'eventrouter show EVENT_ID' has it too.
    """
    result = ctx.control.destinations.test(name, env=env)
    if as_json:
        emit_json(result)
    else:
        status = f"HTTP {result.http_status}" if result.http_status else "no HTTP status"
        if result.outcome is None:
            click.echo(
                f"test notification to {name}: held by the rate limit; a worker sends it at "
                f"{cell(result.next_attempt_at)} (event {result.event_id})"
            )
        else:
            click.echo(
                f"test notification to {name}: {result.outcome} ({status}, "
                f"{result.duration_ms}ms, event {result.event_id})"
            )
        if result.error:
            click.echo(f"error: {printable(result.error)}")
        if result.response_body:
            click.echo(f"response: {cell(result.response_body)}")
    if not result.succeeded:
        sys.exit(SERVICE_EXIT)


@destinations.command("enable")
@click.argument("name")
@pass_ctx
def destinations_enable(ctx: Context, name: str) -> None:
    """Enable a destination."""
    ctx.control.destinations.set_enabled(name, True)
    click.echo(f"destination {name} enabled")


@destinations.command("disable")
@click.argument("name")
@pass_ctx
def destinations_disable(ctx: Context, name: str) -> None:
    """Disable a destination; its open deliveries are cancelled."""
    ctx.control.destinations.set_enabled(name, False)
    click.echo(f"destination {name} disabled")


@destinations.command("remove")
@click.argument("name")
@click.option("--force", is_flag=True, help="Also detach it from the subscriptions using it.")
@pass_ctx
def destinations_remove(ctx: Context, name: str, force: bool) -> None:
    """Remove a destination; its open deliveries are cancelled, history is kept.

    Refused while a subscription sends to it, unless --force (which detaches it)."""
    detached = ctx.control.destinations.remove(name, force=force)
    click.echo(
        f"destination {name} removed"
        + (f" (detached from subscription(s) {', '.join(detached)})" if detached else "")
    )
