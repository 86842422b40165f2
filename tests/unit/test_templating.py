"""``${...}`` templates: placeholder semantics, JSON safety, and errors that show the spot."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventrouter.router.destinations.templating import (
    JsonTemplate,
    TemplateError,
    TextTemplate,
    lookup,
)
from eventrouter.router.events import Event

NOW = datetime(2026, 11, 23, 15, 45, 11, 554000, tzinfo=UTC)


def event(payload: dict[str, Any] | None = None, env: str | None = "prod") -> Event:
    return Event(
        id="01a20915-2a86-7d2e-8f1f-66cfa127078a",
        name="payment:failed",
        org="acme",
        env=env,
        payload=payload if payload is not None else {"invoice": "in_1", "amount": 4200},
    )


def render(source: str, **kwargs: Any) -> Any:
    return JsonTemplate.compile(source).render_value(event(**kwargs), NOW)


def test_fixed_placeholders() -> None:
    body = render(
        '{"n": "${name}", "i": "${id}", "o": "${org}", "e": "${env}", "t": "${timestamp}"}'
    )
    assert body == {
        "n": "payment:failed",
        "i": "01a20915-2a86-7d2e-8f1f-66cfa127078a",
        "o": "acme",
        "e": "prod",
        "t": "2026-11-23T15:45:11.554Z",
    }


def test_timestamp_is_send_time_in_utc() -> None:
    text = JsonTemplate.compile('{"t": "${timestamp}"}').render(event())
    sent = datetime.fromisoformat(json.loads(text)["t"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - sent).total_seconds()) < 5


def test_payload_json_is_an_object_slot() -> None:
    payload = {"a": [1, {"b": None}], "s": 'q"uote'}
    assert render('{"p": ${payload_json}}', payload=payload) == {"p": payload}


def test_payload_paths_inside_quotes_are_text_and_bare_are_json_values() -> None:
    payload = {"user": {"name": 'Zoë "Z" \\ O\'Brien\nline2', "age": 41, "tags": ["a", "b"]}}
    body = render(
        '{"who": "${payload.user.name}", "age": ${payload.user.age}, '
        '"age_text": "age ${payload.user.age}", "first_tag": "${payload.user.tags.0}", '
        '"tags": ${payload.user.tags}, "tags_text": "${payload.user.tags}", '
        '"missing": ${payload.nope.deeper}, "missing_text": "${payload.nope}"}',
        payload=payload,
    )
    assert body == {
        "who": 'Zoë "Z" \\ O\'Brien\nline2',
        "age": 41,
        "age_text": "age 41",
        "first_tag": "a",
        "tags": ["a", "b"],
        "tags_text": '["a","b"]',
        "missing": None,
        "missing_text": "",
    }


def test_bare_string_placeholders_become_json_strings_and_missing_env_is_null() -> None:
    assert render('{"n": ${name}, "e": ${env}}', env=None) == {"n": "payment:failed", "e": None}
    assert render('{"e": "${env}"}', env=None) == {"e": ""}


def test_dollar_dollar_is_a_literal_dollar() -> None:
    assert render('{"price": "$$5 and $${name}"}') == {"price": "$5 and ${name}"}


def test_escaped_quotes_in_the_template_do_not_confuse_the_scanner() -> None:
    assert render('{"q": "say \\"${name}\\" now"}') == {"q": 'say "payment:failed" now'}


@pytest.mark.parametrize(
    ("source", "fragments"),
    [
        ('{"x": "${payload_json}"}', ["object slot", "column 8", '"»«${payload_json}']),
        ('{"x": ${nope}}', ["unknown placeholder ${nope}", "column 7"]),
        ('{"x": ${name}', ["not valid JSON", "line 1"]),
        ('{"x": ${name} "y": 1}', ["not valid JSON", "Expecting ',' delimiter", "column 15"]),
        ('{\n  "a": 1,\n  "b": [1, 2,]\n}', ["not valid JSON", "line 3, column 14"]),
        ('{"x": "${name', ["unterminated placeholder"]),
        ('{"x": "${name"}', ["unknown placeholder"]),
        ("not json at all", ["not valid JSON", "line 1, column 1"]),
    ],
)
def test_bad_templates_are_refused_showing_the_spot(source: str, fragments: list[str]) -> None:
    with pytest.raises(TemplateError) as info:
        JsonTemplate.compile(source)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), json_values))
def test_any_payload_renders_valid_json(payload: dict[str, Any]) -> None:
    template = JsonTemplate.compile(
        '{"t": "${payload.a} / ${payload.b.c}", "v": ${payload.a}, "w": [${payload.b}], '
        '"all": ${payload_json}, "n": "${name}"}'
    )
    body = json.loads(template.render(event(payload=payload), NOW))
    assert body["v"] == payload.get("a")
    assert body["all"] == payload


def test_lookup_walks_dicts_and_list_indexes() -> None:
    data = {"a": {"b": [10, {"c": "x"}]}}
    assert lookup(data, "a.b.1.c") == "x"
    assert lookup(data, "a.b.0") == 10
    assert lookup(data, "a.b.5") is None
    assert lookup(data, "a.z") is None


def test_text_template_inserts_plain_text_on_one_line() -> None:
    subject = TextTemplate.compile("[${env}] ${name}: ${payload.msg} (${payload.n})")
    rendered = subject.render(event(payload={"msg": "disk\nfull\r\nBcc: x@evil", "n": 3}), NOW)
    assert rendered == "[prod] payment:failed: disk full Bcc: x@evil (3)"
    with pytest.raises(TemplateError, match="one line"):
        TextTemplate.compile("a\nb")
    with pytest.raises(TemplateError, match="unknown placeholder"):
        TextTemplate.compile("${whatever}")
