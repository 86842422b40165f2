"""``eventrouter preferences show|set|test``: a user's notification preferences (the CLI acts as
an admin, so it names the user with ``--user``)."""

from __future__ import annotations

import sys
from typing import Any

import click
from pydantic import ValidationError

from eventrouter.router.cli.context import Context, pass_ctx
from eventrouter.router.cli.output import json_option, report
from eventrouter.router.people.preferences import (
    Medium,
    PreferencesChange,
    UserPreferences,
    first_error,
)

_OFF = ("", "off", "none")


@click.group()
def preferences() -> None:
    """Notification preferences: media, channels, quiet hours and digest, per user."""


def _describe(up: UserPreferences) -> str:
    prefs = up.preferences
    quiet = prefs.quiet_hours
    off = sorted(name for name, on in prefs.channels.items() if not on)
    lines = [
        f"{up.email} ({up.timezone or 'UTC'})",
        f"  email: {'on' if prefs.email_enabled else 'off'} → {prefs.email_address or up.email}",
        f"  slack: {'on' if prefs.slack_enabled else 'off'} → "
        f"{prefs.slack_target or up.slack_user or up.slack_channel or '(no Slack contact)'}",
        f"  channels off: {', '.join(off) or 'none'}",
        "  quiet hours: "
        + (f"{quiet.window} {quiet.days or 'every day'}, {quiet.mode}" if quiet else "none"),
        f"  digest: {prefs.digest}",
    ]
    return "\n".join(lines)


@preferences.command("show")
@click.option("--user", "user_email", required=True, help="The user's email.")
@json_option
@pass_ctx
def preferences_show(ctx: Context, user_email: str, as_json: bool) -> None:
    """Show a user's preferences (the defaults are stored on the first read)."""
    found = ctx.control.preferences.get_by_email(user_email)
    report(as_json, found, _describe(found))


@preferences.command("set")
@click.option("--user", "user_email", required=True, help="The user's email.")
@click.option("--email/--no-email", default=None, help="Email on or off.")
@click.option("--slack/--no-slack", default=None, help="Slack on or off.")
@click.option(
    "--channel",
    "channels",
    multiple=True,
    metavar="NAME=on|off",
    help="Opt in or out of a channel (repeatable).",
)
@click.option("--email-address", default=None, help="Send email here ('' = login email).")
@click.option("--slack-target", default=None, help="Slack member/channel id ('' = default).")
@click.option("--quiet-hours", default=None, help="HH:MM-HH:MM in their zone; 'off' removes.")
@click.option("--quiet-days", default=None, help="Days quiet hours start on (mon-fri).")
@click.option("--quiet-mode", type=click.Choice(["hold", "drop"]), default=None)
@click.option("--digest", default=None, help="immediate, hourly or 'daily HH:MM'.")
@click.option("--timezone", default=None, help="Their IANA time zone ('' = UTC).")
@json_option
@pass_ctx
def preferences_set(
    ctx: Context,
    /,
    user_email: str,
    channels: tuple[str, ...],
    quiet_hours: str | None,
    quiet_days: str | None,
    quiet_mode: str | None,
    as_json: bool,
    **options: Any,
) -> None:
    """Change a user's preferences: only the options given; the others stay."""
    fields: dict[str, Any] = {
        "email_enabled": options.pop("email"),
        "slack_enabled": options.pop("slack"),
        "digest": options.pop("digest"),
    }
    fields = {key: value for key, value in fields.items() if value is not None}
    for key, value in options.items():  # overrides and zone: '' resets to the default
        if value is not None:
            fields[key] = value or None
    if channels:
        fields["channels"] = dict(_channel(text) for text in channels)
    if quiet_hours is not None:
        fields["quiet_hours"] = None
        if quiet_hours.lower() not in _OFF:
            fields["quiet_hours"] = {"window": quiet_hours, "days": quiet_days}
            if quiet_mode is not None:
                fields["quiet_hours"]["mode"] = quiet_mode
    elif quiet_days is not None or quiet_mode is not None:
        raise click.UsageError("--quiet-days and --quiet-mode go with --quiet-hours HH:MM-HH:MM")
    if not fields:
        raise click.UsageError("nothing to change; give --no-slack, --channel NAME=off, …")
    try:
        change = PreferencesChange.model_validate(fields)
    except ValidationError as exc:
        raise click.UsageError(first_error(exc)) from None
    saved = ctx.control.preferences.change_by_email(user_email, change)
    report(as_json, saved, _describe(saved))


@preferences.command("test")
@click.argument("medium", type=click.Choice([m.value for m in Medium]))
@click.option("--user", "user_email", required=True, help="The user's email.")
@json_option
@pass_ctx
def preferences_test(ctx: Context, medium: str, user_email: str, as_json: bool) -> None:
    """Send a user a test notification on MEDIUM now, through the org's destination for it
    ('people set'), to where their notifications go. Exits 0 when it was accepted, 1
    otherwise; 'eventrouter show EVENT_ID' has the attempt."""
    sent = ctx.control.preferences.test_by_email(user_email, Medium(medium))
    report(as_json, sent, f"{sent.message} (event {sent.event_id})")
    if not sent.success:
        sys.exit(1)


def _channel(text: str) -> tuple[str, bool]:
    name, sep, state = text.rpartition("=")
    if not sep or not name or state.lower() not in ("on", "off"):
        raise click.UsageError(f"--channel {text!r}: write NAME=on or NAME=off")
    return name, state.lower() == "on"
