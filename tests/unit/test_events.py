"""The event envelope: name and payload rules, ids, build/parse round trip (pure)."""

from __future__ import annotations

import json
import random
import re
import string
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eventrouter.router.errors import EventRouterError, InvalidEvent
from eventrouter.router.events import (
    MAX_PAYLOAD_BYTES,
    NAME_PATTERN,
    Stamp,
    build_envelope,
    check_name,
    check_scope,
    encode_payload,
    new_event_id,
    parse_envelope,
)

NAME_ALPHABET = string.ascii_letters + string.digits + ":._-/"


def envelope(**overrides: Any) -> str:
    """A valid stream entry, with fields replaced or (value ``...``) removed."""
    data: dict[str, Any] = {
        "id": new_event_id(),
        "name": "payment:failed",
        "org": "acme",
        "env": "prod",
        "idempotency_key": None,
        "published_at": 1_700_000_000.5,
        "payload": {"invoice": "in_1"},
    }
    for key, value in overrides.items():
        if value is ...:
            data.pop(key, None)
        else:
            data[key] = value
    return json.dumps(data)


# -- names --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    ["payment:failed", "a", "x" * 200, "run.finished", "metric/accuracy", "A-B_c:1.2/3", "::"],
)
def test_valid_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name",
    ["", "x" * 201, "payment failed", "payment:failed\n", "pay*ment", "payé", "a,b", "a\x00"],
)
def test_invalid_names_are_refused_with_the_rule(name: str) -> None:
    with pytest.raises(InvalidEvent, match=re.escape("1-200 letters, digits and : . _ - /")):
        check_name(name)


@pytest.mark.parametrize("name", [None, 5, b"payment:failed", ["a"]])
def test_names_must_be_strings(name: object) -> None:
    with pytest.raises(InvalidEvent, match="is invalid"):
        check_name(name)


def test_invalid_event_is_a_value_error_and_an_eventrouter_error() -> None:
    with pytest.raises(ValueError):
        check_name("")
    assert issubclass(InvalidEvent, EventRouterError)


def test_scope_rules() -> None:
    assert check_scope("env", None) is None
    assert check_scope("env", "prod") == "prod"
    with pytest.raises(InvalidEvent, match="env"):
        check_scope("env", "pro d")
    with pytest.raises(InvalidEvent, match="org"):
        check_scope("org", "x" * 101)


# -- payloads ---------------------------------------------------------------------------
def test_payload_defaults_to_an_empty_object() -> None:
    assert encode_payload(None) == "{}"


@pytest.mark.parametrize("payload", [[1, 2], "text", 3, 1.5, True, ("a",)])
def test_payload_must_be_a_dict(payload: object) -> None:
    with pytest.raises(InvalidEvent, match=f"not {type(payload).__name__}"):
        encode_payload(payload)


@pytest.mark.parametrize(
    "payload",
    [{"when": datetime.now(UTC)}, {"x": {1, 2}}, {"n": float("nan")}, {"n": float("inf")}],
)
def test_payload_must_be_json_serialisable(payload: dict[str, Any]) -> None:
    with pytest.raises(InvalidEvent, match="not JSON-serialisable"):
        encode_payload(payload)


def test_payload_keys_that_json_cannot_hold_are_refused_as_json_dumps_refuses_them() -> None:
    with pytest.raises(InvalidEvent, match="not JSON-serialisable: keys must be str"):
        encode_payload({(1, 2): "a tuple key"})
    assert encode_payload({1: "a", 2.5: "b", None: "c"}) == '{"1":"a","2.5":"b","null":"c"}'


def test_a_payload_that_contains_itself_is_refused() -> None:
    payload: dict[str, Any] = {"a": 1}
    payload["self"] = payload
    with pytest.raises(InvalidEvent, match="contains itself"):
        encode_payload(payload)
    assert encode_payload({"a": 1}) == '{"a":1}'  # the encoder is still good afterwards


def test_payload_size_limit_is_exactly_256_kib_encoded() -> None:
    overhead = len('{"a":""}')
    at_limit = {"a": "x" * (MAX_PAYLOAD_BYTES - overhead)}
    assert len(encode_payload(at_limit).encode()) == MAX_PAYLOAD_BYTES
    with pytest.raises(InvalidEvent, match="limit is 262144"):
        encode_payload({"a": "x" * (MAX_PAYLOAD_BYTES - overhead + 1)})


def test_payload_size_counts_utf8_bytes_not_characters() -> None:
    overhead = len('{"a":""}')
    chars = (MAX_PAYLOAD_BYTES - overhead) // 2 + 1  # 2 bytes each: just over
    with pytest.raises(InvalidEvent, match="bytes encoded"):
        encode_payload({"a": "é" * chars})


def test_payload_with_nul_characters_is_refused() -> None:
    # Postgres jsonb cannot store \u0000: accepting it would wedge the router later.
    with pytest.raises(InvalidEvent, match="NUL"):
        encode_payload({"a": "before\x00after"})
    with pytest.raises(InvalidEvent, match="NUL"):
        encode_payload({"nested": [{"k\x00": 1}]})
    # A literal backslash followed by "u0000" is ordinary text.
    assert encode_payload({"a": "\\u0000"}) == '{"a":"\\\\u0000"}'


# -- ids --------------------------------------------------------------------------------
def test_event_ids_are_uuid_version_7() -> None:
    for _ in range(100):
        value = uuid.UUID(new_event_id())
        assert value.version == 7
        assert value.variant == uuid.RFC_4122


def test_event_ids_carry_the_current_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    value = uuid.UUID(new_event_id())
    after = time.time_ns() // 1_000_000
    assert before <= value.int >> 80 <= after


def test_event_ids_increase_over_time() -> None:
    ids = []
    for _ in range(5):
        ids.append(new_event_id())
        time.sleep(0.002)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_event_ids_are_unique() -> None:
    ids = {new_event_id() for _ in range(10_000)}
    assert len(ids) == 10_000


def test_the_ids_of_one_stamp_ascend_and_stay_uuid_version_7() -> None:
    stamp = Stamp()
    ids = [stamp.next_id() for _ in range(10_000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    values = [uuid.UUID(event_id) for event_id in ids]
    assert {(v.version, v.variant) for v in values} == {(7, uuid.RFC_4122)}
    assert len({v.int >> 80 for v in values}) == 1  # one clock read: one millisecond


def test_seeding_random_does_not_repeat_ids() -> None:
    """A reproducible training run seeds ``random`` in every process: ids must not follow."""
    random.seed(7)
    first = {new_event_id() for _ in range(100)}
    random.seed(7)
    assert first.isdisjoint(new_event_id() for _ in range(100))


# -- build / parse ----------------------------------------------------------------------
def test_build_then_parse_round_trips() -> None:
    before = time.time()
    event_id, entry = build_envelope(
        "payment:failed",
        {"invoice": "in_1", "amount": 4200, "nested": {"ok": [1, None, "é"]}},
        org="acme",
        env="prod",
        idempotency_key="charge-1",
    )
    event = parse_envelope(entry)
    assert event.id == event_id
    assert event.name == "payment:failed"
    assert event.org == "acme"
    assert event.env == "prod"
    assert event.idempotency_key == "charge-1"
    assert event.payload == {"invoice": "in_1", "amount": 4200, "nested": {"ok": [1, None, "é"]}}
    assert before - 0.001 <= event.published_at <= time.time() + 0.001
    assert event.published_datetime.tzinfo is UTC


def test_envelope_is_plain_json_with_every_field() -> None:
    event_id, entry = build_envelope("a:b", None, org="acme", env=None, idempotency_key=None)
    data = json.loads(entry)
    assert set(data) == {"id", "name", "org", "env", "idempotency_key", "published_at", "payload"}
    assert data["id"] == event_id
    assert data["payload"] == {}
    assert data["env"] is None


def test_parse_accepts_bytes() -> None:
    _, entry = build_envelope("a:b", {"x": 1}, org="acme", env=None, idempotency_key=None)
    assert parse_envelope(entry.encode()).payload == {"x": 1}


def test_parse_normalises_the_id() -> None:
    event_id = new_event_id()
    event = parse_envelope(envelope(id=event_id.upper().replace("-", "")))
    assert event.id == event_id


def test_build_refuses_bad_input_before_making_an_id() -> None:
    with pytest.raises(InvalidEvent, match="event name"):
        build_envelope("bad name", {}, org="acme", env=None, idempotency_key=None)
    with pytest.raises(InvalidEvent, match="org"):
        build_envelope("a", {}, org="bad org", env=None, idempotency_key=None)
    with pytest.raises(InvalidEvent, match="env"):
        build_envelope("a", {}, org="acme", env="", idempotency_key=None)
    with pytest.raises(InvalidEvent, match="payload"):
        build_envelope("a", [1], org="acme", env=None, idempotency_key=None)


@pytest.mark.parametrize("key", ["", "k" * 201, 5, "a\x00b"])
def test_build_refuses_bad_idempotency_keys(key: Any) -> None:
    with pytest.raises(InvalidEvent, match="idempotency_key"):
        build_envelope("a", {}, org="acme", env=None, idempotency_key=key)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not json", "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
        ("[1, 2]", "not a JSON object"),
        ('"text"', "not a JSON object"),
        (envelope(id=...), "no valid id"),
        (envelope(id="123"), "no valid id"),
        (envelope(id=42), "no valid id"),
        (envelope(id=None), "no valid id"),
        (envelope(name=...), "event name"),
        (envelope(name="bad name"), "event name"),
        (envelope(name=7), "event name"),
        (envelope(org=...), "no org"),
        (envelope(org=7), "org"),
        (envelope(env="has space"), "env"),
        (envelope(env=["prod"]), "env"),
        (envelope(payload=[1]), "payload must be a JSON object"),
        (envelope(payload="x"), "payload must be a JSON object"),
        (envelope(payload={"n": float("nan")}), "JSON-serialisable"),
        (envelope(idempotency_key=12), "idempotency_key"),
        (envelope(idempotency_key="k" * 201), "idempotency_key"),
        (envelope(idempotency_key=""), "idempotency_key"),
    ],
)
def test_parse_rejects_unusable_entries(raw: str | bytes, reason: str) -> None:
    with pytest.raises(InvalidEvent, match=reason):
        parse_envelope(raw)


def test_parse_tolerates_a_missing_payload_and_published_at() -> None:
    event = parse_envelope(envelope(payload=..., published_at=...))
    assert event.payload == {}
    assert abs(event.published_at - time.time()) < 5


@pytest.mark.parametrize(
    "value", ["yesterday", True, None, float("nan"), float("inf"), 1e300, -1e12]
)
def test_parse_replaces_an_unusable_published_at_with_now(value: Any) -> None:
    event = parse_envelope(envelope(published_at=value))
    assert abs(event.published_at - time.time()) < 5
    event.published_datetime  # noqa: B018 - must not raise


# -- properties ---------------------------------------------------------------------------
names = st.from_regex(NAME_PATTERN, fullmatch=True)
payloads = st.dictionaries(
    # "approval" has a meaning of its own, checked on publish (tests/unit/test_slack_interactive.py)
    st.text(max_size=10).filter(lambda s: "\x00" not in s and s != "approval"),
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers(-(2**53), 2**53)
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=20).filter(lambda s: "\x00" not in s),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.text(max_size=5).filter(lambda s: "\x00" not in s), inner, max_size=3
            )
        ),
        max_leaves=10,
    ),
    max_size=5,
)


@given(payload=payloads)
def test_payload_text_is_exactly_what_json_dumps_writes(payload: dict[str, Any]) -> None:
    """The router checks entries with the same rules; the text must not drift."""
    expected = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    assert encode_payload(payload) == expected


@given(name=names, payload=payloads)
def test_every_valid_name_and_payload_round_trips(name: str, payload: dict[str, Any]) -> None:
    event_id, entry = build_envelope(name, payload, org="acme", env=None, idempotency_key=None)
    event = parse_envelope(entry)
    assert (event.id, event.name, event.payload) == (event_id, name, payload)


@given(
    name=st.text(min_size=1, max_size=60).filter(lambda s: any(c not in NAME_ALPHABET for c in s))
)
def test_names_outside_the_alphabet_are_rejected(name: str) -> None:
    with pytest.raises(InvalidEvent):
        check_name(name)
    with pytest.raises(InvalidEvent):
        build_envelope(name, {}, org="acme", env=None, idempotency_key=None)


@given(name=st.text(alphabet=NAME_ALPHABET, min_size=201, max_size=400))
def test_names_over_200_chars_are_rejected(name: str) -> None:
    with pytest.raises(InvalidEvent):
        check_name(name)
