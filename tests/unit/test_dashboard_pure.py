"""The dashboard's pure parts: the SVG chart and the kind forms built from declared options."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from eventrouter.router.dashboard.chart import delivery_chart, minute_series, nice_ceiling
from eventrouter.router.dashboard.forms import (
    current_values,
    edit_patch,
    error_field,
    fields_for,
    read_form,
)
from eventrouter.router.dashboard.rule_form import (
    RULE_FIELDS,
    error_caret,
    rule_values,
    rules_given,
    rules_summary,
)
from eventrouter.router.dashboard.submit import FORM_ERROR
from eventrouter.router.destinations import KINDS, validate_config
from eventrouter.router.errors import ConfigError
from eventrouter.router.models.overview import MinuteCount
from eventrouter.router.models.rules import NotifyMode, Rules

SINCE = datetime(2026, 12, 1, 12, 0, 30, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return SINCE.replace(second=0) + timedelta(minutes=minutes)


def test_the_series_has_one_entry_per_minute_with_zeros_between() -> None:
    series = minute_series(
        [
            MinuteCount(minute=at(1), succeeded=3, failed=0),
            MinuteCount(minute=at(60), succeeded=0, failed=2),
        ],
        SINCE,
    )
    assert len(series) == 60
    assert [s.minute for s in series] == [at(i) for i in range(1, 61)]
    assert (series[0].succeeded, series[-1].failed) == (3, 2)
    assert sum(s.succeeded + s.failed for s in series[1:-1]) == 0


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (1, 1), (2, 2), (3, 5), (7, 10), (11, 20), (200, 200), (201, 500)]
)
def test_the_axis_top_is_a_round_number_at_or_above_the_highest_bar(value: int, top: int) -> None:
    assert nice_ceiling(value) == top


def test_bars_are_stacked_in_proportion_and_say_what_they_show() -> None:
    series = minute_series(
        [
            MinuteCount(minute=at(1), succeeded=6, failed=4),
            MinuteCount(minute=at(2), succeeded=5, failed=0),
        ],
        SINCE,
        minutes=2,
    )
    svg = delivery_chart(series, width=236, height=120)
    heights = [
        float(h) for h in re.findall(r'<rect class="(?:ok|bad)"[^>]* height="([\d.]+)"', svg)
    ]
    assert heights == [60.0, 40.0, 50.0]  # plot height 100, axis top 10
    assert "11 succeeded and 4 failed attempts in the last 2 minutes" in svg
    assert "12:01 UTC: 6 succeeded, 4 failed" in svg
    assert "No delivery attempts" not in svg


def test_an_empty_hour_says_so() -> None:
    svg = delivery_chart(minute_series([], SINCE))
    assert "No delivery attempts in the last hour" in svg
    assert "<rect" not in svg
    assert svg.startswith("<svg") and svg.endswith("</svg>")


def test_each_kind_gets_exactly_its_own_fields() -> None:
    names = {kind: [f.name for f in fields_for(kind)] for kind in KINDS}
    for kind, found in names.items():
        assert found == [o.name for o in KINDS[kind].options] + ["timeout"]
    email = {f.name: f for f in fields_for("email")}
    assert email["to"].widget == "textarea" and email["password"].widget == "password"
    assert email["smtp_tls"].widget == "select" and email["smtp_tls"].choices[0] == "ssl"
    assert email["smtp_port"].widget == "number" and email["smtp_port"].flag == "--smtp-port"
    assert "url" not in [f.name for f in fields_for("email")]


def test_a_form_becomes_the_options_the_cli_would_have_been_given() -> None:
    given, errors = read_form(
        "email",
        {
            "from_address": " a@example.com ",
            "to": "b@example.com\n\nc@example.com",
            "smtp_host": "smtp.example.com",
            "smtp_port": "2525",
            "subject": "",
            "timeout": "2.5",
        },
    )
    assert errors == {}
    assert given == {
        "from_address": "a@example.com",
        "to": ["b@example.com", "c@example.com"],
        "smtp_host": "smtp.example.com",
        "smtp_port": 2525,
        "timeout": 2.5,
    }


@pytest.mark.parametrize(
    ("kind", "field", "typed", "message"),
    [
        ("email", "smtp_port", "70000", "--smtp-port: 70000 is not a port between 1 and 65535"),
        ("email", "smtp_port", "25.5", "--smtp-port: '25.5' is not a whole number"),
        ("webhook", "timeout", "soon", "--timeout: 'soon' is not a number"),
        ("webhook", "method", "DELETE", "--method: choose one of POST, PUT"),
        ("webhook", "template", "@/etc/passwd", "--template: paste the template itself"),
    ],
)
def test_unreadable_fields_are_named(kind: str, field: str, typed: str, message: str) -> None:
    given, errors = read_form(kind, {field: typed})
    assert field not in given
    assert errors[field].startswith(message)


def test_a_service_message_lands_next_to_the_field_it_is_about() -> None:
    with pytest.raises(ConfigError) as caught:
        validate_config(
            "email",
            {
                "from_address": "a@example.com",
                "to": ["b@example.com"],
                "smtp": {"host": "", "port": 25},
            },
        )
    assert error_field("email", caught.value) == "smtp_host"
    assert error_field("webhook", ConfigError("a webhook destination needs --url")) == "url"
    assert error_field("email", ConfigError("an email destination needs --from and …")) == (
        "from_address"
    )
    assert error_field("webhook", ConfigError("bad", field=("retry_schedule",))) == (
        "retry_schedule"
    )
    assert error_field("webhook", ConfigError("something else")) == FORM_ERROR


def test_an_edit_sends_only_what_changed_and_never_a_masked_value() -> None:
    stored = {
        "url": "https://user:…abcd@example.com/hook",
        "secret": "…wxyz",
        "headers": {"X-Team": "ops"},
        "timeout": 5.0,
    }
    before = current_values("webhook", stored)
    assert before == {
        "url": "https://user:…abcd@example.com/hook",
        "headers": "X-Team: ops",
        "timeout": "5.0",
    }
    unchanged, errors = edit_patch("webhook", before, {**before, "secret": ""})
    assert (unchanged, errors) == ({}, {})
    patch, errors = edit_patch(
        "webhook",
        before,
        {**before, "headers": "", "timeout": "9", "secret": "whsec_new", "method": "PUT"},
    )
    assert errors == {}
    assert patch == {"headers": None, "timeout": 9.0, "secret": "whsec_new", "method": "PUT"}
    nested, _ = edit_patch("email", {"smtp_host": "a"}, {"smtp_host": "a", "smtp_port": "2525"})
    assert nested == {"smtp": {"port": 2525}}


def test_the_chart_reads_in_the_persons_time_zone() -> None:
    series = minute_series([MinuteCount(minute=at(1), succeeded=1, failed=0)], SINCE, minutes=2)
    svg = delivery_chart(series, zone=ZoneInfo("Asia/Kolkata"))
    assert "17:31: 1 succeeded, 0 failed" in svg and "UTC" not in svg


def test_rule_fields_read_as_the_apis_rules_and_back() -> None:
    form = {"filter": " payload.x > 1 ", "resolve": "on", "for_count": "3", "key": "", "x": "y"}
    given = rules_given(form)
    assert given == {"filter": "payload.x > 1", "resolve": True, "for_count": "3"}
    rules = Rules(filter="payload.x > 1", notify=NotifyMode.ON_CHANGE, resolve=True, for_count=3)
    assert rule_values(rules) == {
        "filter": "payload.x > 1",
        "notify": "on-change",
        "resolve": "on",
        "for_count": "3",
    }
    assert rules_summary(rules) == [
        "--filter payload.x > 1",
        "--notify on-change",
        "--resolve",
        "--for 3",
    ]
    assert rule_values(None) == {} and rules_summary(None) == []
    flags = {f.flag for f in RULE_FIELDS}
    assert {"--filter", "--for", "--group-by", "--quiet-hours", "--urgent"} <= flags
    assert {f.name for f in RULE_FIELDS} == set(Rules.model_fields)


def test_an_expression_error_is_marked_under_its_position() -> None:
    message = "--filter 'payload.x <': syntax error at column 12: mismatched input '<EOF>'"
    assert error_caret("payload.x <", message) == "payload.x <\n           ^"
    assert error_caret("a &&\n  b(", "syntax error at line 2, column 4: x") == "  b(\n   ^"
    assert error_caret("x", "unknown variable 'foo' at column 1; use") == "x\n^"
    assert error_caret("x", "--timezone: unknown time zone 'Mars/X'") is None
    assert (
        error_caret("x", "at line 9, column 1") is None and error_caret("", "at column 1") is None
    )
