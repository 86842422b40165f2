"""The rule flags of ``subscriptions add`` (and ``update``): one decorator, one builder, so
every command that sets rules spells them the same way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from eventrouter.router.control.subscriptions import merged_rules
from eventrouter.router.models.rules import NotifyMode, QuietMode, Rules

F = TypeVar("F", bound=Callable[..., Any])

_OPTIONS = (
    click.option(
        "--filter",
        "rule_filter",
        default=None,
        help="CEL: deliver only events for which this is true, e.g. "
        "'payload.score >= 0.6 && payload.service in [\"checkout\"]'. Variables: name, org, "
        "env, payload, received_at. Guard optional fields with has(payload.x).",
    ),
    click.option(
        "--notify",
        type=click.Choice([m.value for m in NotifyMode]),
        default=None,
        help="always (every match) or on-change (when the filter turns true per --key).",
    ),
    click.option("--key", "rule_key", default=None, help="CEL: what state is kept per."),
    click.option("--resolve", is_flag=True, default=None, help="on-change: notify recovery too."),
    click.option("--for", "for_count", type=int, default=None, help="on-change: after N matches."),
    click.option("--group-by", default=None, help="CEL: collect events with equal values."),
    click.option("--group-wait", default=None, help="How long a group collects [default: 30s]."),
    click.option("--repeat-interval", default=None, help="Throttle a key this long after a send."),
    click.option(
        "--quiet-hours", default=None, help="HH:MM-HH:MM in --timezone, e.g. 23:00-07:00."
    ),
    click.option("--quiet-days", default=None, help="Days quiet hours start on, e.g. sat,sun."),
    click.option("--timezone", default=None, help="IANA zone of --quiet-hours."),
    click.option(
        "--quiet-mode",
        type=click.Choice([m.value for m in QuietMode]),
        default=None,
        help="hold (send as a digest when quiet hours end) or drop [default: hold].",
    ),
    click.option("--urgent", default=None, help="CEL: these events ignore quiet hours."),
)
_NAMES = {
    "rule_filter": "filter",
    "notify": "notify",
    "rule_key": "key",
    "resolve": "resolve",
    "for_count": "for_count",
    "group_by": "group_by",
    "group_wait": "group_wait",
    "repeat_interval": "repeat_interval",
    "quiet_hours": "quiet_hours",
    "quiet_days": "quiet_days",
    "timezone": "timezone",
    "quiet_mode": "quiet_mode",
    "urgent": "urgent",
}


def rule_options(command: F) -> F:
    """Add the rule flags to ``command``; they arrive in its keyword arguments."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def pop_rules(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take the rule flags out of a command's keyword arguments: the ones given only."""
    given = {_NAMES[flag]: kwargs.pop(flag) for flag in _NAMES}
    return {field: value for field, value in given.items() if value is not None}


def rules_from(given: dict[str, Any]) -> Rules | None:
    """The rules the flags describe, or None when none was given; a bad value is a
    ``ConfigError`` naming the field."""
    return merged_rules(None, given)
