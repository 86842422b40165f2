"""Bad input, tried by hypothesis: whatever arrives, a clear refusal or a faithful
round trip, never a crash.

- stream entries (any bytes, any JSON) → an event or a rejection with a reason;
- channel patterns (any text) → compiled, or ``ValueError`` saying why; a routing table
  holding a pattern that does not compile still routes every other channel;
- destination configs (any JSON object) → a model, or one ``ConfigError`` line naming
  the field; a valid config survives the round trip through its stored form;
- JSON templates (built from JSON pieces and placeholders) → refused when compiled, or
  valid JSON for every payload.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventrouter.router.destinations import KINDS, validate_config
from eventrouter.router.destinations.templating import JsonTemplate, TemplateError
from eventrouter.router.errors import ConfigError, InvalidEvent
from eventrouter.router.events import (
    MAX_PAYLOAD_DEPTH,
    Event,
    build_envelope,
    encode_payload,
    parse_envelope,
)
from eventrouter.router.routing import (
    MAX_PATTERN_LENGTH,
    ChannelRule,
    RoutingTable,
    SubscriptionRule,
    compile_pattern,
)
from eventrouter.router.store import parse_entries

json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


# -- stream entries -----------------------------------------------------------------------------
@given(st.lists(st.tuples(st.binary(max_size=200), st.booleans()), max_size=8))
def test_any_bytes_in_the_stream_become_an_event_or_a_rejection(
    raws: list[tuple[bytes, bool]],
) -> None:
    entries = [
        (f"{i}-0".encode(), {b"event": raw} if has_field else {b"other": raw})
        for i, (raw, has_field) in enumerate(raws)
    ]
    events, rejected = parse_entries(entries)
    assert len(events) + len(rejected) == len(entries)
    for _, reason, _ in rejected:
        assert reason


@given(json_values)
def test_any_json_document_is_parsed_or_refused_with_invalid_event(document: Any) -> None:
    try:
        raw = json.dumps(document)
    except ValueError:
        return
    try:
        event = parse_envelope(raw)
    except InvalidEvent as exc:
        assert str(exc)
    else:
        assert isinstance(event, Event)


@given(
    field=st.sampled_from(["id", "name", "org", "env", "payload", "idempotency_key"]),
    value=json_values,
)
def test_a_wrong_type_in_any_field_is_refused_or_harmless(field: str, value: Any) -> None:
    _, entry = build_envelope("chaos:x", {"a": 1}, org="o", env=None, idempotency_key=None)
    document = json.loads(entry)
    document[field] = value
    try:
        raw = json.dumps(document)
    except ValueError:
        return
    entries = [(b"1-0", {b"event": raw.encode()})]
    events, rejected = parse_entries(entries)
    assert len(events) + len(rejected) == 1


def test_a_deleted_entry_is_rejected_with_the_reason() -> None:
    events, rejected = parse_entries([(b"7-0", None)])
    assert events == []
    assert rejected == [
        ("7-0", "entry was deleted from the stream (XDEL/XTRIM) before a router stored it", "")
    ]


def test_payload_nesting_is_limited_with_a_clear_message() -> None:
    deep: Any = {}
    for _ in range(MAX_PAYLOAD_DEPTH):
        deep = {"a": deep}
    with pytest.raises(InvalidEvent, match=f"nested more than {MAX_PAYLOAD_DEPTH} levels"):
        encode_payload(deep)
    shallow: Any = {}
    for _ in range(MAX_PAYLOAD_DEPTH - 1):
        shallow = {"a": shallow}
    encode_payload(shallow)  # exactly at the limit: fine
    wide = {"items": [{"n": i} for i in range(5000)]}  # many containers, shallow
    encode_payload(wide)


def test_payload_nested_past_the_interpreter_limit_is_refused_not_raised() -> None:
    deep: Any = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(InvalidEvent, match="nested"):
        encode_payload({"a": deep})


# -- patterns ---------------------------------------------------------------------------------
@given(st.text(max_size=60))
def test_any_pattern_compiles_or_is_refused_saying_why(pattern: str) -> None:
    try:
        compiled = compile_pattern(pattern)
    except ValueError as exc:
        assert str(exc)
    else:
        assert compiled.fullmatch("x") is None or compiled.fullmatch("x") is not None


@given(st.lists(st.text(max_size=20), min_size=1, max_size=5))
def test_a_table_with_broken_patterns_still_routes_the_good_channels(patterns: list[str]) -> None:
    channels = [ChannelRule(i, "o", None, p) for i, p in enumerate(patterns, start=2)]
    channels.append(ChannelRule(1, "o", None, "chaos:.*"))
    table = RoutingTable(
        channels, [SubscriptionRule(1, "o", None, True, frozenset({1}), frozenset({9}))], [9]
    )
    assert [p.destination_id for p in table.plan("chaos:x", "o", None)] == [9]
    for rule in channels:
        try:
            compile_pattern(rule.pattern)
        except ValueError as exc:
            assert table.broken[rule.id] == str(exc)


def test_patterns_longer_than_the_limit_are_refused() -> None:
    with pytest.raises(ValueError, match=f"the limit is {MAX_PATTERN_LENGTH}"):
        compile_pattern("a" * (MAX_PATTERN_LENGTH + 1))


@pytest.mark.timeout(30)
@pytest.mark.parametrize(
    ("pattern", "matches"),
    [("(a+)+$", True), ("(a|a)*b", False), ("(a|aa)+c", False), ("(.*a){20}", True)],
)
def test_hostile_patterns_stay_linear_on_long_input(pattern: str, matches: bool) -> None:
    # Names are at most 200 chars; RE2 stays linear far beyond that. A backtracking
    # engine needs ~2^n steps here and would not finish n=40 in a day.
    compiled = compile_pattern(pattern)
    for n in (1_000, 100_000):
        assert (compiled.fullmatch("a" * n) is not None) is matches


def test_patterns_too_big_for_re2_are_refused_when_created() -> None:
    with pytest.raises(ValueError, match="invalid pattern"):
        compile_pattern("((((a{100}){100}){100}){100})")


# -- destination configs ----------------------------------------------------------------------
config_objects = st.dictionaries(
    st.sampled_from(
        ["url", "method", "headers", "timeout", "template", "secret", "routing_key", "severity",
         "webhook_url", "bot_token", "channel", "to", "from", "smtp", "sendgrid", "region"]
    ) | st.text(max_size=10),
    json_values,
    max_size=6,
)  # fmt: skip


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(KINDS)), config=config_objects)
def test_any_config_is_a_model_or_one_clear_config_error(kind: str, config: dict[str, Any]) -> None:
    try:
        model = validate_config(kind, config)
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith(f"invalid {kind} destination ")
        assert "\n" not in message
    else:
        stored = model.model_dump(mode="json", exclude_none=True)
        assert validate_config(kind, stored).model_dump(mode="json", exclude_none=True) == stored


header_names = st.from_regex(r"X-[A-Za-z0-9-]{1,20}", fullmatch=True)
header_values = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=40)


@given(
    url=st.from_regex(
        r"https://[a-z]{1,12}\.example(:[1-9][0-9]{0,3})?/[a-z0-9/]{0,20}", fullmatch=True
    ),
    method=st.sampled_from(["POST", "PUT"]),
    headers=st.dictionaries(header_names, header_values, max_size=3),
    timeout=st.none() | st.floats(min_value=0.1, max_value=300),
)
def test_valid_webhook_configs_round_trip(
    url: str, method: str, headers: dict[str, str], timeout: float | None
) -> None:
    config: dict[str, Any] = {"url": url, "method": method, "headers": headers}
    if timeout is not None:
        config["timeout"] = timeout
    stored = validate_config("webhook", config).model_dump(mode="json", exclude_none=True)
    again = validate_config("webhook", stored).model_dump(mode="json", exclude_none=True)
    assert again == stored
    assert stored["url"] == url and stored["method"] == method and stored["headers"] == headers


# -- templates ----------------------------------------------------------------------------------
template_pieces = st.sampled_from(
    ['{', '}', '[', ']', ',', ':', '"', '"k"', '"text ', ' ', '1', 'null', '$$', '${name}',
     '${id}', '${env}', '${timestamp}', '${payload_json}', '${payload.a}', '${payload.a.b}',
     '${payload.0}', '${nope}', '${', '\\', '\\"', '\n']
)  # fmt: skip


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(
    source=st.lists(template_pieces, min_size=1, max_size=14).map("".join),
    payload=st.dictionaries(st.sampled_from(["a", "b", "0"]), json_values, max_size=3),
)
def test_a_template_is_refused_when_compiled_or_always_renders_valid_json(
    source: str, payload: dict[str, Any]
) -> None:
    try:
        template = JsonTemplate.compile(source)
    except TemplateError as exc:
        assert "line" in str(exc) or str(exc)
        return
    try:
        text = encode_payload(payload)
    except InvalidEvent:
        return  # publish() would have refused this payload
    event = Event(id="0190c1a2-0000-7000-8000-000000000000", name="x", org="o", env=None,
                  payload=json.loads(text))  # fmt: skip
    json.loads(template.render(event))
