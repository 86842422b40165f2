"""A subscription's ``Rules`` (as stored) compiled for the router: expressions compiled,
durations parsed, the quiet-hours window built. ``ValueError`` names what is wrong, so the
control plane refuses a bad rule when it is created, not when an event meets it."""

from __future__ import annotations

from dataclasses import dataclass

from eventrouter.router.durations import parse_duration
from eventrouter.router.models.rules import NotifyMode, QuietMode, Rules
from eventrouter.router.rules.expressions import Expression, compile_expression
from eventrouter.router.rules.windows import Window, load_zone, parse_days, parse_window

MAX_WAIT_SECONDS = 7 * 86400.0
MIN_WAIT_SECONDS = 0.1
DEFAULT_GROUP_WAIT = 30.0
"""Alertmanager's default ``group_wait``."""


@dataclass(frozen=True, slots=True)
class CompiledRules:
    filter: Expression | None
    on_change: bool
    key: Expression | None
    resolve: bool
    for_count: int
    group_by: Expression | None
    group_wait: float | None
    repeat_interval: float | None
    quiet: Window | None
    hold: bool
    urgent: Expression | None

    @property
    def stateful(self) -> bool:
        """Whether decisions depend on earlier events (state kept in ``rule_state``)."""
        return self.on_change or self.group_wait is not None or self.repeat_interval is not None


def compile_rules(rules: Rules) -> CompiledRules:
    """Check and compile ``rules``; ``ValueError`` explains the first problem found."""
    on_change = rules.notify == NotifyMode.ON_CHANGE
    if not on_change and (rules.resolve or rules.for_count != 1):
        raise ValueError("--resolve and --for need --notify on-change")
    if rules.group_wait is not None and rules.group_by is None:
        raise ValueError("--group-wait needs --group-by (what to group on)")
    if rules.quiet_hours is None and (rules.quiet_days or rules.urgent):
        raise ValueError("--quiet-days and --urgent need --quiet-hours")
    if rules.quiet_hours is not None and rules.timezone is None:
        raise ValueError("--quiet-hours needs --timezone (an IANA name such as America/New_York)")
    quiet = None
    if rules.quiet_hours is not None and rules.timezone is not None:
        quiet = _window(rules.quiet_hours, rules.timezone, rules.quiet_days)
    group_by = _expression(rules.group_by, "--group-by")
    return CompiledRules(
        filter=_expression(rules.filter, "--filter"),
        on_change=on_change,
        key=_expression(rules.key, "--key"),
        resolve=rules.resolve,
        for_count=rules.for_count,
        group_by=group_by,
        group_wait=_wait(
            rules.group_wait, "--group-wait", DEFAULT_GROUP_WAIT if group_by else None
        ),
        repeat_interval=_wait(rules.repeat_interval, "--repeat-interval", None),
        quiet=quiet,
        hold=rules.quiet_mode == QuietMode.HOLD,
        urgent=_expression(rules.urgent, "--urgent"),
    )


def _window(hours: str, zone: str, days: str | None) -> Window:
    """The quiet-hours window; each part's error names its own flag."""
    for flag, check in (
        ("--timezone", lambda: load_zone(zone)),
        ("--quiet-days", lambda: parse_days(days)),
    ):
        try:
            check()
        except ValueError as exc:
            raise ValueError(f"{flag}: {exc}") from None
    try:
        return parse_window(hours, zone, days)
    except ValueError as exc:
        raise ValueError(f"--quiet-hours: {exc}") from None


def _expression(source: str | None, what: str) -> Expression | None:
    return None if source is None else compile_expression(source, what)


def _wait(text: str | None, what: str, default: float | None) -> float | None:
    if text is None:
        return default
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise ValueError(f"{what}: {exc}") from None
    if not MIN_WAIT_SECONDS <= seconds <= MAX_WAIT_SECONDS:
        raise ValueError(f"{what} {text!r} is outside 100ms to 7d; give a duration within those")
    return seconds
