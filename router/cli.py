"""``eventrouter``: run the router and workers, configure routing, inspect deliveries.

Every failure a person can cause prints one line on stderr and exits 2; an
unreachable service exits 1 with a line naming its URL. No tracebacks.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cached_property
from typing import Any, NoReturn

import click
from sqlalchemy import Engine

from eventrouter.router.admin import STATUSES, Admin
from eventrouter.router.client import publish
from eventrouter.router.db import make_engine
from eventrouter.router.durations import parse_duration
from eventrouter.router.errors import (
    ConfigError,
    EventRouterError,
    InvalidEvent,
    NotFound,
    first_line,
)
from eventrouter.router.settings import Settings

USAGE_EXIT = 2
SERVICE_EXIT = 1


class Context:
    """Lazily built settings, engine and admin for one CLI invocation."""

    def __init__(self, org: str | None) -> None:
        self._org = org

    @cached_property
    def settings(self) -> Settings:
        try:
            return Settings()
        except ValueError as exc:
            raise ConfigError(f"bad EVENTROUTER_* setting: {first_line(exc)}") from None

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url, pool_size=1)

    @property
    def admin(self) -> Admin:
        return Admin(self.engine, self.settings, org=self._org)


pass_ctx = click.make_pass_decorator(Context)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def emit_json(document: Any) -> None:
    click.echo(json.dumps(document, default=_json_default, indent=2, ensure_ascii=False))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, list | tuple):
        return ",".join(map(str, value)) or "-"
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    text = str(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:59] + "…"


def emit_table(rows: Sequence[dict[str, Any]], columns: Sequence[str], empty: str) -> None:
    """Plain aligned columns, like ``kubectl get``."""
    if not rows:
        click.echo(empty)
        return
    cells = [[_cell(row.get(col)) for col in columns] for row in rows]
    widths = [max(len(col), *(len(r[i]) for r in cells)) for i, col in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for r in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())


def listing(
    rows: Sequence[dict[str, Any]], as_json: bool, columns: Sequence[str], empty: str
) -> None:
    if as_json:
        emit_json(list(rows))
    else:
        emit_table(rows, columns, empty)


def report(as_json: bool, document: dict[str, Any], message: str) -> None:
    """Print ``document`` as JSON for scripts, else ``message`` for people."""
    if as_json:
        emit_json(document)
    else:
        click.echo(message)


json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--org", default=None, help="Organisation to act on [default: EVENTROUTER_ORG].")
@click.version_option(package_name="eventrouter")
@click.pass_context
def cli(ctx: click.Context, org: str | None) -> None:
    """Route named events to webhooks and other destinations, with retries."""
    ctx.obj = Context(org)


# -- db ------------------------------------------------------------------------------
@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """Create the database if missing and migrate it to the newest schema."""
    from eventrouter.router.db.engine import safe_url
    from eventrouter.router.db.migrate import create_database_if_missing, current_revision, upgrade

    url = ctx.settings.database_url
    created = create_database_if_missing(url)
    upgrade(url)
    verb = "created and migrated" if created else "migrated"
    click.echo(f"database {safe_url(url)} {verb} to revision {current_revision(url)}")
    if ctx.settings.secret_keys is None:
        from eventrouter.router.crypto import write_key_file

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
    count = ctx.admin.reencrypt_secrets()
    click.echo(f"{count} destination(s) re-encrypted with the first key")


# -- processes -----------------------------------------------------------------------
def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@cli.command("router")
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@pass_ctx
def run_router(ctx: Context, log_level: str) -> None:
    """Run a router: stream → Postgres → Celery, plus the retry scheduler.

    Run as many as you like; they share the work. SIGTERM or Ctrl-C stops cleanly.
    """
    from eventrouter.router.service import RouterService

    _configure_logging(log_level)
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        logging.getLogger("eventrouter.router").info("signal %d: finishing the batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    RouterService(ctx.settings, engine=make_engine(ctx.settings.database_url)).run(stop)


@cli.command("worker", context_settings={"ignore_unknown_options": True})
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(1, 256),
    default=None,
    help="Worker processes [default: EVENTROUTER_WORKER_CONCURRENCY or CPUs + 1].",
)
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@pass_ctx
def run_worker(
    ctx: Context, concurrency: int | None, log_level: str, celery_args: tuple[str, ...]
) -> None:
    """Run a Celery worker that delivers; extra arguments go to 'celery worker'."""
    from eventrouter.workers.app import app

    argv = [
        "worker",
        "--queues",
        ctx.settings.queue,
        "--loglevel",
        log_level.upper(),
        "--hostname",
        "eventrouter@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    workers = concurrency or ctx.settings.worker_concurrency or ctx.settings.default_concurrency
    argv += ["--concurrency", str(workers)]
    app.worker_main([*argv, *celery_args])


# -- channels --------------------------------------------------------------------------
@cli.group()
def channels() -> None:
    """Channels: named regex patterns over event names."""


@channels.command("add")
@click.argument("name")
@click.option("--pattern", required=True, help="RE2 regex, matched against the whole name.")
@click.option("--env", default=None, help="Only events of this environment.")
@click.option("--description", default="", help="Free text shown in listings.")
@json_option
@pass_ctx
def channels_add(
    ctx: Context, name: str, pattern: str, env: str | None, description: str, as_json: bool
) -> None:
    """Add a channel."""
    channel = ctx.admin.add_channel(name, pattern, env=env, description=description)
    report(as_json, channel, f"channel {name} added (pattern {pattern})")


@channels.command("list")
@json_option
@pass_ctx
def channels_list(ctx: Context, as_json: bool) -> None:
    """List channels, built-in system channels first."""
    listing(
        ctx.admin.list_channels(),
        as_json,
        ["name", "pattern", "env", "subscriptions", "description"],
        "no channels",
    )


@channels.command("remove")
@click.argument("name")
@pass_ctx
def channels_remove(ctx: Context, name: str) -> None:
    """Remove a channel that no subscription uses."""
    ctx.admin.remove_channel(name)
    click.echo(f"channel {name} removed")


# -- destinations ----------------------------------------------------------------------
@cli.group()
def destinations() -> None:
    """Destinations: where deliveries go."""


def _given(click_ctx: click.Context) -> dict[str, Any]:
    """The options the user actually gave (not defaults), by parameter name."""
    return {
        name: value
        for name, value in click_ctx.params.items()
        if click_ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)
    }


@destinations.command("add")
@click.argument("name")
@click.option(
    "--type",
    "kind",
    required=True,
    type=click.Choice(["webhook", "slack", "pagerduty", "email"]),
    help="Destination kind.",
)
@click.option(
    "--timeout",
    type=float,
    default=None,
    help="Most seconds one request may take, connect to last byte [default: 10].",
)
@click.option(
    "--retry-schedule",
    default=None,
    help="Delays between attempts, e.g. 1s,5s,1m [default: EVENTROUTER_RETRY_SCHEDULE].",
)
@click.option(
    "--template",
    default=None,
    help="webhook/slack: JSON body with ${...} placeholders, or @file.json.",
)
@click.option("--url", help="webhook: URL (http/https). pagerduty: endpoint override.")
@click.option(
    "--method",
    type=click.Choice(["POST", "PUT"], case_sensitive=False),
    default="POST",
    show_default=True,
    help="webhook: HTTP method.",
)
@click.option(
    "--header",
    "headers",
    multiple=True,
    metavar="'NAME: VALUE'",
    help="webhook: extra request header; repeatable.",
)
@click.option("--secret", default=None, help="webhook: Standard Webhooks secret (whsec_…).")
@click.option(
    "--generate-secret", is_flag=True, default=False, help="webhook: make a signing secret."
)
@click.option("--webhook-url", default=None, help="slack: incoming webhook URL.")
@click.option("--bot-token", default=None, help="slack: bot token (xoxb-…).")
@click.option("--channel", default=None, help="slack: channel ID for the bot token.")
@click.option("--api-url", default=None, help="slack: Web API base URL. email: SendGrid base URL.")
@click.option("--rate-limit", type=float, default=None, help="slack: messages/s [default: 1].")
@click.option("--burst", type=int, default=None, help="slack: burst size [default: 3].")
@click.option("--routing-key", default=None, help="pagerduty: Events API v2 Integration Key.")
@click.option(
    "--severity",
    type=click.Choice(["critical", "error", "warning", "info"]),
    default=None,
    help="pagerduty: severity when the payload has none [default: error].",
)
@click.option(
    "--region",
    type=click.Choice(["us", "eu"]),
    default=None,
    help="pagerduty: service region [default: us].",
)
@click.option("--source", default=None, help="pagerduty: payload.source when the event has none.")
@click.option(
    "--action-field",
    default=None,
    help="pagerduty: payload field with trigger|acknowledge|resolve [default: event_action].",
)
@click.option("--from", "from_address", default=None, help="email: sender address.")
@click.option("--to", multiple=True, help="email: recipient; repeatable.")
@click.option("--subject", default=None, help="email: subject template [default: [env] name].")
@click.option("--smtp-host", default=None, help="email: SMTP server.")
@click.option("--smtp-port", type=click.IntRange(1, 65535), default=None, help="email: port.")
@click.option(
    "--smtp-tls",
    type=click.Choice(["ssl", "starttls", "none"]),
    default=None,
    help="email: ssl (default on 465), starttls (default elsewhere), none (local relays).",
)
@click.option("--username", default=None, help="email: SMTP user.")
@click.option("--password", default=None, help="email: SMTP password.")
@click.option("--smtp-ca-file", default=None, help="email: PEM CA bundle to trust for SMTP TLS.")
@click.option("--sendgrid-api-key", default=None, help="email: SendGrid API key (SG.…).")
@json_option
@click.pass_context
def destinations_add(click_ctx: click.Context, /, **options: Any) -> None:
    """Add a destination; options are checked for the chosen --type."""
    from eventrouter.router.destination_options import build_config, describe_target

    ctx = click_ctx.find_object(Context)
    assert ctx is not None
    name: str = options["name"]
    kind: str = options["kind"]
    given = {k: v for k, v in _given(click_ctx).items() if k not in ("name", "kind")}
    config, generated = build_config(kind, given)
    destination = ctx.admin.add_destination(
        name, kind, config, retry_schedule=options["retry_schedule"]
    )
    if generated is not None:
        destination["signing_secret"] = generated
    if options["as_json"]:
        emit_json(destination)
        return
    click.echo(f"destination {name} added ({kind}: {describe_target(kind, destination['config'])})")
    if generated is not None:
        click.echo(f"signing secret: {generated}")
        click.echo("give it to the receiver now; listings show only its last 4 characters")


@destinations.command("list")
@json_option
@pass_ctx
def destinations_list(ctx: Context, as_json: bool) -> None:
    """List destinations (secrets are masked)."""
    from eventrouter.router.destination_options import describe_target

    rows = ctx.admin.list_destinations()
    if not as_json:
        for row in rows:
            row["target"] = describe_target(row["kind"], row["config"])
            row["state"] = (
                "enabled"
                if row["enabled"]
                else (
                    f"disabled: {row['disabled_reason']}" if row["disabled_reason"] else "disabled"
                )
            )
    listing(rows, as_json, ["name", "kind", "target", "state", "retry_schedule"], "no destinations")


@destinations.command("rotate-secret")
@click.argument("name")
@click.option("--secret", default=None, help="The new whsec_… secret [default: generate one].")
@click.option(
    "--grace",
    default="24h",
    show_default=True,
    help="How long the old secret keeps co-signing (0 drops it now).",
)
@json_option
@pass_ctx
def destinations_rotate_secret(
    ctx: Context, name: str, secret: str | None, grace: str, as_json: bool
) -> None:
    """Give a webhook a new signing secret; the old one co-signs during the grace period."""
    try:
        grace_seconds = parse_duration(grace)
    except ValueError as exc:
        raise ConfigError(f"--grace: {exc}") from None
    rotated = ctx.admin.rotate_secret(name, secret=secret, grace_seconds=grace_seconds)
    if as_json:
        emit_json(rotated)
        return
    click.echo(f"destination {name}: new signing secret {rotated['secret']}")
    until = rotated["previous_valid_until"]
    click.echo(
        f"the previous secret co-signs until {_cell(until)} UTC"
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
    result = ctx.admin.test_destination(name, env=env)
    if as_json:
        emit_json(result)
    else:
        status = f"HTTP {result['http_status']}" if result["http_status"] else "no HTTP status"
        if result["outcome"] is None:
            click.echo(
                f"test notification to {name}: held by the rate limit; a worker sends it at "
                f"{_cell(result['next_attempt_at'])} (event {result['event_id']})"
            )
        else:
            click.echo(
                f"test notification to {name}: {result['outcome']} ({status}, "
                f"{result['duration_ms']}ms, event {result['event_id']})"
            )
        if result["error"]:
            click.echo(f"error: {result['error']}")
        if result["response_body"]:
            click.echo(f"response: {_cell(result['response_body'])}")
    if result["outcome"] != "succeeded":
        sys.exit(SERVICE_EXIT)


def _toggle(group: click.Group, noun: str, setter: Callable[[Admin, str, bool], None]) -> None:
    for verb, enabled in (("enable", True), ("disable", False)):

        def command(ctx: Context, name: str, _enabled: bool = enabled, _verb: str = verb) -> None:
            setter(ctx.admin, name, _enabled)
            click.echo(f"{noun} {name} {_verb}d")

        command.__doc__ = f"{verb.capitalize()} a {noun}."
        group.command(verb)(click.argument("name")(pass_ctx(command)))


_toggle(destinations, "destination", Admin.set_destination_enabled)


@destinations.command("remove")
@click.argument("name")
@pass_ctx
def destinations_remove(ctx: Context, name: str) -> None:
    """Remove a destination; its open deliveries are cancelled, history is kept."""
    ctx.admin.remove_destination(name)
    click.echo(f"destination {name} removed")


# -- subscriptions ---------------------------------------------------------------------
@cli.group()
def subscriptions() -> None:
    """Subscriptions: which channels go to which destinations."""


@subscriptions.command("add")
@click.argument("name")
@click.option("--channel", "channel_names", multiple=True, required=True, help="Repeatable.")
@click.option(
    "--destination", "destination_names", multiple=True, required=True, help="Repeatable."
)
@click.option("--env", default=None, help="Only events of this environment [default: all].")
@json_option
@pass_ctx
def subscriptions_add(
    ctx: Context,
    name: str,
    channel_names: tuple[str, ...],
    destination_names: tuple[str, ...],
    env: str | None,
    as_json: bool,
) -> None:
    """Add a subscription."""
    sub = ctx.admin.add_subscription(
        name, channels=channel_names, destinations=destination_names, env=env
    )
    scope = f"env {env}" if env else "all environments"
    report(
        as_json,
        sub,
        f"subscription {name} added: {', '.join(channel_names)} → "
        f"{', '.join(destination_names)} ({scope})",
    )


@subscriptions.command("list")
@json_option
@pass_ctx
def subscriptions_list(ctx: Context, as_json: bool) -> None:
    """List subscriptions."""
    listing(
        ctx.admin.list_subscriptions(),
        as_json,
        ["name", "env", "channels", "destinations", "enabled"],
        "no subscriptions",
    )


_toggle(subscriptions, "subscription", Admin.set_subscription_enabled)


@subscriptions.command("remove")
@click.argument("name")
@pass_ctx
def subscriptions_remove(ctx: Context, name: str) -> None:
    """Remove a subscription."""
    ctx.admin.remove_subscription(name)
    click.echo(f"subscription {name} removed")


# -- events ------------------------------------------------------------------------------
@cli.command("send")
@click.argument("event_name")
@click.option("--payload", default=None, help='JSON object, e.g. \'{"invoice": "in_1"}\'.')
@click.option("--env", default=None, help="Environment of the event.")
@click.option("--idempotency-key", default=None, help="Events with a seen key are not resent.")
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
    event_id = publish(
        event_name,
        data,
        env=env,
        org=ctx._org,
        idempotency_key=idempotency_key,
        settings=ctx.settings,
    )
    click.echo(event_id)


@cli.command("history")
@click.option("--limit", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--name", "name_regex", default=None, help="Only names matching this regex.")
@click.option("--env", default=None)
@json_option
@pass_ctx
def history(
    ctx: Context, limit: int, name_regex: str | None, env: str | None, as_json: bool
) -> None:
    """Recent events with their delivery counts."""
    rows = ctx.admin.history(limit=limit, name_regex=name_regex, env=env)
    if not as_json:
        for row in rows:
            row["failed"] = row["failed"] + row.pop("cancelled")
            if row["duplicate_of"]:
                row["name"] = f"{row['name']} (duplicate)"
    listing(
        rows,
        as_json,
        ["event_id", "received_at", "name", "env", "total", "succeeded", "pending", "failed"],
        "no events yet",
    )


@cli.command("show")
@click.argument("event_id")
@json_option
@pass_ctx
def show(ctx: Context, event_id: str, as_json: bool) -> None:
    """One event: payload, deliveries and every attempt."""
    event = ctx.admin.show(event_id)
    if as_json:
        emit_json(event)
        return
    click.echo(f"event     {event['id']}")
    click.echo(f"name      {event['name']}")
    click.echo(f"org/env   {event['org']} / {event['env'] or '-'}")
    click.echo(f"received  {_cell(event['received_at'])}")
    if event["duplicate_of"]:
        click.echo(
            f"duplicate of {event['duplicate_of']} (idempotency key "
            f"{event['idempotency_key']!r}); not delivered again"
        )
    click.echo("payload")
    click.echo(
        "  " + json.dumps(event["payload"], indent=2, ensure_ascii=False).replace("\n", "\n  ")
    )
    if not event["deliveries"]:
        click.echo("deliveries: none (no subscription matched)")
    for d in event["deliveries"]:
        click.echo(
            f"delivery {d['id']} → {d['destination'] or '(removed)'}: {d['status']}, "
            f"{d['attempt_count']} attempt(s)"
            + (f", next at {_cell(d['next_attempt_at'])}" if d["status"] == "pending" else "")
        )
        for a in d["attempts"]:
            status = f"HTTP {a['http_status']}" if a["http_status"] else "no HTTP status"
            line = (
                f"  #{a['attempt_number']} {_cell(a['started_at'])} {a['outcome']:<9} "
                f"{status} {a['duration_ms']}ms"
            )
            if a["error"]:
                line += f"  {a['error']}"
            click.echo(line)
            if a["response_body"] and a["outcome"] != "succeeded":
                click.echo(f"     response: {_cell(a['response_body'])}")


@cli.command("deliveries")
@click.option("--status", type=click.Choice(STATUSES), default=None)
@click.option("--destination", default=None, help="Destination name.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@json_option
@pass_ctx
def deliveries(
    ctx: Context, status: str | None, destination: str | None, limit: int, as_json: bool
) -> None:
    """Recent deliveries, newest first."""
    rows = ctx.admin.deliveries(status=status, destination=destination, limit=limit)
    if not as_json:
        for row in rows:
            if row["status"] != "pending":
                row["next_attempt_at"] = None
    listing(
        rows,
        as_json,
        ["id", "event", "destination", "status", "attempt_count", "next_attempt_at", "last_error"],
        "no deliveries",
    )


@cli.command("retry")
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
        ids = ctx.admin.retry_failed(destination=destination, since_seconds=since_seconds)
    else:
        ids = ctx.admin.retry(delivery_ids)
    shown = ", ".join(map(str, ids[:20])) + (" …" if len(ids) > 20 else "")
    report(
        as_json,
        {"retried": ids},
        f"{len(ids)} deliveries queued for retry" + (f": {shown}" if ids else ""),
    )


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: one line per error, never a traceback."""
    from eventrouter.router.errors import PublishError, ServiceUnavailable

    try:
        cli.main(args=argv, prog_name="eventrouter", standalone_mode=False)
    except click.exceptions.Abort:
        fail("aborted", 130)
    except click.ClickException as exc:
        command = getattr(exc, "ctx", None)
        hint = f" (see '{command.command_path} --help')" if command else ""
        fail(exc.format_message() + hint, USAGE_EXIT)
    except (NotFound, ConfigError, InvalidEvent) as exc:
        fail(str(exc), USAGE_EXIT)
    except (ServiceUnavailable, PublishError) as exc:
        fail(str(exc), SERVICE_EXIT)
    except EventRouterError as exc:
        fail(str(exc), SERVICE_EXIT)


if __name__ == "__main__":
    main()
