"""A subscription's rule fields on its form: the same rules ``subscriptions add`` takes as
flags and the API as ``rules``, grouped as people think of them. Pure: form text in, the
API's ``rules`` object out (the service validates it), and back for the edit form."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from eventrouter.router.dashboard.forms import FormField
from eventrouter.router.models.rules import NotifyMode, QuietMode, Rules

_POSITION = re.compile(r"at (?:line (\d+), )?column (\d+)")
CEL_HELP = "CEL over name, org, env, payload, received_at; guard optional fields with has()."


def _field(name: str, label: str, help: str, widget: str = "text", **more: Any) -> FormField:
    flag = "--" + ("for" if name == "for_count" else name.replace("_", "-"))
    return FormField(name=name, label=label, help=help, widget=widget, flag=flag, **more)


RULE_SECTIONS: tuple[tuple[str, str, tuple[FormField, ...]], ...] = (
    (
        "Filter",
        "Deliver only the events for which the filter is true.",
        (_field("filter", "Filter", f"e.g. payload.accuracy < 0.9. {CEL_HELP}", "code"),),
    ),
    (
        "State",
        "Notify when the filter's result for a key changes, not on every match.",
        (
            _field(
                "notify",
                "Notify",
                "always: every match; on-change: when the filter turns true for the key.",
                "select",
                choices=tuple(m.value for m in NotifyMode),
            ),
            _field("key", "Key", "CEL: what state is kept per, e.g. payload.experiment.", "code"),
            _field("resolve", "Also notify when it recovers (resolved)", "", "checkbox"),
            _field("for_count", "For", "Fire only after N matches in a row.", "number", step="1"),
        ),
    ),
    (
        "Grouping",
        "Collect the matching events of one group into one digest.",
        (
            _field("group_by", "Group by", "CEL, e.g. payload.service.", "code"),
            _field("group_wait", "Group wait", "How long a group collects, e.g. 30s (default)."),
        ),
    ),
    (
        "Throttling",
        "After a notification for a key, hold back its next ones for a while.",
        (_field("repeat_interval", "Repeat interval", "e.g. 4h; the next one says how many."),),
    ),
    (
        "Quiet hours",
        "Hold (or drop) deliveries during a daily window in a time zone.",
        (
            _field("quiet_hours", "Quiet hours", "HH:MM-HH:MM, may cross midnight: 23:00-07:00."),
            _field("timezone", "Time zone", "An IANA name, e.g. America/New_York."),
            _field("quiet_days", "Days", "Days the window starts on, e.g. sat,sun; every day."),
            _field(
                "quiet_mode",
                "Mode",
                "hold: send one digest when the window ends; drop: record and never send.",
                "select",
                choices=tuple(m.value for m in QuietMode),
            ),
            _field("urgent", "Urgent", f"CEL: these ignore quiet hours. {CEL_HELP}", "code"),
        ),
    ),
)
RULE_FIELDS = tuple(f for _title, _about, fields in RULE_SECTIONS for f in fields)


def rules_given(form: Mapping[str, str]) -> dict[str, Any]:
    """The rule fields filled in (a blank one is an absent flag), as the API's ``rules``."""
    given: dict[str, Any] = {}
    for f in RULE_FIELDS:
        text = form.get(f.name, "").strip()
        if text:
            given[f.name] = True if f.widget == "checkbox" else text
    return given


def rule_values(rules: Rules | None) -> dict[str, str]:
    """A subscription's rules as the form's text: what the edit form starts with."""
    if rules is None:
        return {}
    set_ = rules.model_dump(mode="json", exclude_defaults=True)
    return {
        name: ("on" if value else "") if isinstance(value, bool) else str(value)
        for name, value in set_.items()
    }


def rules_summary(rules: Rules | None) -> list[str]:
    """One short phrase per rule set, for the subscriptions list."""
    if rules is None:
        return []
    values = rule_values(rules)
    return [
        f.flag if f.widget == "checkbox" else f"{f.flag} {values[f.name]}"
        for f in RULE_FIELDS
        if f.name in values
    ]


def error_caret(source: str | None, message: str) -> str | None:
    """The line of ``source`` an expression's error points at, with a caret under the
    column (``syntax error at line 2, column 7``), or ``None`` if it names no position."""
    match = _POSITION.search(message)
    if not source or match is None:
        return None
    lines = source.splitlines() or [""]
    line, column = int(match.group(1) or 1), int(match.group(2))
    if not 1 <= line <= len(lines):
        return None
    text = lines[line - 1]
    return f"{text}\n{' ' * min(column - 1, len(text))}^"
