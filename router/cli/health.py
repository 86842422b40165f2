"""``eventrouter health``: the checks probes and people run (``router.health``)."""

from __future__ import annotations

import json

import click

from eventrouter.router.cli.context import Context, pass_ctx
from eventrouter.router.durations import parse_duration


@click.command("health")
@click.option(
    "--check",
    "checks",
    multiple=True,
    type=click.Choice(["postgres", "redis", "heartbeat", "backlog"]),
    help="What to check (repeatable) [default: postgres and redis].",
)
@click.option(
    "--max-age",
    default="60s",
    show_default=True,
    help="heartbeat: the oldest EVENTROUTER_HEARTBEAT_FILE that still counts as alive.",
)
@click.option(
    "--max-backlog",
    type=click.IntRange(0),
    default=10_000,
    show_default=True,
    help="backlog: the most unrouted events plus queued tasks that count as healthy.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@pass_ctx
def health(
    ctx: Context, checks: tuple[str, ...], max_age: str, max_backlog: int, as_json: bool
) -> None:
    """Check Postgres, Redis, this process's heartbeat or the backlog; exit 1 if any fails.

    Kubernetes probes run it: liveness '--check heartbeat', readiness the default.
    """
    from eventrouter.router.errors import ConfigError
    from eventrouter.router.health import DEFAULT_CHECKS, Limits, run_checks

    try:
        age = parse_duration(max_age)
    except ValueError as exc:
        raise ConfigError(f"--max-age: {exc}") from None
    limits = Limits(max_heartbeat_age=age, max_backlog=max_backlog)
    results = run_checks(ctx.settings, tuple(dict.fromkeys(checks or DEFAULT_CHECKS)), limits)
    if as_json:
        click.echo(json.dumps([r.__dict__ for r in results]))
    else:
        for result in results:
            click.echo(f"{result.name}: {'ok' if result.ok else 'FAIL'} — {result.detail}")
    if not all(result.ok for result in results):
        raise SystemExit(1)
