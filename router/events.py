"""The event envelope and the rules every event obeys.

An event is checked twice: by ``publish()`` so the producer hears about a mistake at
once, and by the router, because anything can be written to a Redis stream.
"""

from __future__ import annotations

import json
import json.encoder
import math
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from eventrouter.router.errors import InvalidEvent, PayloadTooLarge
from eventrouter.router.interactive import check_approval

NAME_PATTERN = re.compile(r"[A-Za-z0-9:._\-/]{1,200}")
SCOPE_PATTERN = re.compile(r"[A-Za-z0-9:._\-/]{1,100}")
MAX_PAYLOAD_BYTES = 256 * 1024
MAX_PAYLOAD_DEPTH = 100
MAX_IDEMPOTENCY_KEY = 200
STREAM_FIELD = b"event"
# Postgres text and jsonb cannot hold NUL; this finds an escaped NUL (\u0000) in JSON text
# but not an escaped backslash followed by "u0000".
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
# published_at outside this range (or not finite) cannot become a timestamp; it is ignored.
_MAX_TIMESTAMP = 253_402_300_799.0  # 9999-12-31T23:59:59Z


# Ids draw from a generator of their own, seeded from os.urandom and reseeded in a forked
# child: a program that calls random.seed() (as reproducible training runs do) must not
# make its processes draw the same ids.
_ids_random = random.Random()
os.register_at_fork(after_in_child=_ids_random.seed)
_RAND_B_COUNTER_ROOM = 1 << 61


class Stamp:
    """The clock read and random draw behind a batch's ids and ``published_at``.

    One per batch (and per thread), not per event: a batch reads the clock and draws once.
    Ids are UUIDv7 (time-ordered, so they sort by publish time and index
    well): 48 bits of milliseconds, then 73 random bits whose low part counts up, so the
    ids of one batch ascend in order and never repeat within it. The random bits come from
    a private generator, not ``os.urandom``: ids must not collide, they need not be
    unpredictable, and a system call per event would cost more than the rest of its id.
    """

    __slots__ = ("_low", "_prefix", "published_at")

    def __init__(self) -> None:
        now = time.time_ns()
        millis = now // 1_000_000 & ((1 << 48) - 1)
        rand = _ids_random.getrandbits(73)
        # time (48 bits), version 7, 12 random bits; then the variant and 61 random bits,
        # the top bit of the 62 left clear so counting up never carries into the variant.
        self._prefix = "%08x-%04x-7%03x-" % (millis >> 16, millis & 0xFFFF, rand >> 61)  # noqa: UP031
        self._low = 0b10 << 62 | rand & (_RAND_B_COUNTER_ROOM - 1)
        self.published_at = f"{now / 1e9:.6f}"
        """The batch's publish time as the envelope spells it."""

    def next_id(self) -> str:
        low = self._low
        self._low = low + 1
        return f"{self._prefix}{low >> 48:04x}-{low & 0xFFFF_FFFF_FFFF:012x}"


def new_event_id() -> str:
    """A fresh UUIDv7 (see ``Stamp``)."""
    return Stamp().next_id()


_KEYED_NAMESPACE = uuid.UUID("5b0c1f0e-8a55-4d6f-9d4e-2f1d0c6a7e10")


def keyed_event_id(org: str, idempotency_key: str) -> str:
    """The id of the event with this idempotency key in ``org``: a UUIDv5 of the two, so
    every publish of the key returns the first one's id without asking anyone, and a
    repeat that reaches the router is recognised by its id alone."""
    return str(uuid.uuid5(_KEYED_NAMESPACE, f"{org}\x00{idempotency_key}"))


# Names and scopes already found valid: a producer uses a handful of them, and a set
# lookup costs a fifth of a regex match. Bounded, so hostile input cannot grow it. One set
# serves both: the two patterns share their characters, so a label of at most 100 of them
# (all a scope may have; longer names are not remembered) is valid as either.
_VALID_LABELS: set[str] = set()
_MAX_VALID_LABELS = 10_000


def _remember(label: str) -> str:
    if len(_VALID_LABELS) < _MAX_VALID_LABELS:
        _VALID_LABELS.add(label)
    return label


def check_name(name: object) -> str:
    if type(name) is str and name in _VALID_LABELS:
        return name
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidEvent(
            f"event name {name!r} is invalid: use 1-200 letters, digits and : . _ - / "
            "(e.g. 'payment:failed')"
        )
    return _remember(name) if len(name) <= 100 else name


def check_scope(kind: str, value: object) -> str | None:
    """Validate an org or env label; ``None`` stays ``None``."""
    if value is None:
        return None
    if type(value) is str and value in _VALID_LABELS:
        return value
    if not isinstance(value, str) or not SCOPE_PATTERN.fullmatch(value):
        raise InvalidEvent(f"{kind} {value!r} is invalid: use 1-100 letters, digits and : . _ - /")
    return _remember(value)


def _compact_json_encoder() -> Callable[[object], str]:
    """``json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)``,
    with its C encoder made once instead of per call (making it costs more than encoding a
    small payload). The same C code writes the same text and raises the same errors,
    except that it keeps no record of the containers it is inside (threads would share
    it): a payload that contains itself recurses until ``RecursionError``."""
    plain = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    make: Callable[..., Callable[[object, int], Iterable[str]]] | None = getattr(
        json.encoder, "c_make_encoder", None
    )
    if make is None:  # no C accelerator (another Python implementation)
        return plain.encode
    quote = json.encoder.encode_basestring  # the C one when the accelerator is there
    encode = make(None, plain.default, quote, None, ":", ",", False, False, False)
    return lambda value: "".join(encode(value, 0))


_encode_json = _compact_json_encoder()


def encode_payload(payload: object) -> str:
    """The payload as compact JSON, after checking it is an object within the size limit."""
    if payload is None:
        return "{}"
    if not isinstance(payload, dict):
        raise InvalidEvent(f"payload must be a JSON object (a dict), not {type(payload).__name__}")
    try:
        text = _encode_json(payload)
    except RecursionError:
        raise _too_deep() from None
    except (TypeError, ValueError) as exc:
        raise InvalidEvent(f"payload is not JSON-serialisable: {exc}") from None
    if "\\u0000" in text and _JSON_NUL.search(text):
        raise InvalidEvent("payload contains a NUL character (\\u0000), which cannot be stored")
    if text.isascii():  # the common case: its length is its size, and it is valid UTF-8
        size = len(text)
    else:
        try:
            size = len(text.encode())
        except UnicodeEncodeError:
            raise InvalidEvent(
                "payload contains a lone surrogate, which is not valid UTF-8"
            ) from None
    if size > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(
            f"payload is {size} bytes encoded; the limit is {MAX_PAYLOAD_BYTES} (256 KiB)"
        )
    # A worker loads payloads back through json.loads on a deeper stack than the router's,
    # so an event the router could store must never be too deep to load there.
    # Deeper than the limit needs more than that many brackets, so short text cannot be.
    if (
        size > 2 * MAX_PAYLOAD_DEPTH
        and text.count("{") + text.count("[") > MAX_PAYLOAD_DEPTH  # a bound of the depth
        and _depth(payload) > MAX_PAYLOAD_DEPTH
    ):
        raise _too_deep()
    return text


def _too_deep() -> InvalidEvent:
    return InvalidEvent(
        f"payload is nested more than {MAX_PAYLOAD_DEPTH} levels deep (or contains itself)"
    )


def _depth(value: object) -> int:
    """Nesting depth of JSON containers, iteratively (a deep payload must not recurse)."""
    deepest = 0
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Iterable[object] = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_PAYLOAD_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def check_idempotency_key(key: object) -> str | None:
    """A key is ``None`` or 1-200 characters of valid UTF-8 text without NUL."""
    if key is None:
        return None
    if isinstance(key, str) and 1 <= len(key) <= MAX_IDEMPOTENCY_KEY and "\x00" not in key:
        try:
            key.encode()
            return key
        except UnicodeEncodeError:
            pass
    raise InvalidEvent(
        f"idempotency_key must be a string of 1-{MAX_IDEMPOTENCY_KEY} chars without NUL"
    )


class Event:
    """One published event, as it travels on the stream and is stored in ``events``."""

    __slots__ = (
        "_payload",
        "env",
        "id",
        "idempotency_key",
        "name",
        "notice",
        "org",
        "payload_json",
        "published_at",
    )

    def __init__(
        self,
        *,
        id: str,
        name: str,
        org: str,
        env: str | None,
        payload: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
        published_at: float | None = None,
        payload_json: str | None = None,
        notice: dict[str, Any] | None = None,
    ) -> None:
        self.id = id
        self.name = name
        self.org = org
        self.env = env
        # Given as a dict, or only as ``payload_json`` (a worker's claim): decoded on first
        # use, so a webhook sending the default body never decodes and re-encodes it.
        self._payload = payload if payload is not None or payload_json is not None else {}
        self.idempotency_key = idempotency_key
        self.published_at = published_at if published_at is not None else time.time()
        # The payload as the JSON text its validation produced (``encode_payload``), when
        # it was validated: the router stores this text instead of encoding it again.
        self.payload_json = payload_json
        # What a delivery tells besides the event, set by alert rules (router.rules):
        # ``state`` (firing/resolved), ``key``, ``throttled`` (a count), and for a digest
        # ``id`` plus ``group`` or ``held`` ({key, count, first_at, last_at, events}).
        self.notice = notice

    @property
    def payload(self) -> dict[str, Any]:
        payload = self._payload
        if payload is None:
            decoded = json.loads(self.payload_json or "{}")
            payload = self._payload = decoded if isinstance(decoded, dict) else {}
        return payload

    @payload.setter
    def payload(self, value: dict[str, Any]) -> None:
        self._payload = value

    @property
    def published_datetime(self) -> datetime:
        return datetime.fromtimestamp(self.published_at, UTC)

    def __repr__(self) -> str:
        return f"Event(id={self.id!r}, name={self.name!r}, org={self.org!r}, env={self.env!r})"


def build_envelope(
    name: str,
    payload: object,
    *,
    org: str,
    env: str | None,
    idempotency_key: str | None,
    stamp: Stamp | None = None,
) -> tuple[str, str]:
    """Validate one event and return ``(event_id, stream_entry_json)``; the events of a
    batch share one ``stamp`` (their ids ascend, their ``published_at`` is one)."""
    check_name(name)
    check_scope("org", org)
    check_scope("env", env)
    check_idempotency_key(idempotency_key)
    payload_json = payload_entry(payload)
    stamp = stamp or Stamp()
    event_id = stamp.next_id() if idempotency_key is None else keyed_event_id(org, idempotency_key)
    tail = entry_tail(org, env, idempotency_key, stamp.published_at)
    return event_id, f'{{"id":"{event_id}","name":"{name}{tail}{payload_json}}}'


def payload_entry(payload: object) -> str:
    """The payload's JSON for a stream entry, after every check the router makes."""
    payload_json = encode_payload(payload)
    if isinstance(payload, dict) and "approval" in payload:
        try:
            check_approval(payload["approval"])
        except ValueError as exc:
            raise InvalidEvent(str(exc)) from None
    return payload_json


def entry_tail(org: str, env: str | None, idempotency_key: str | None, published_at: str) -> str:
    """An entry's text between its name and its payload, for an org and env already
    checked: one string serves every unkeyed event of a batch in one org and env.

    Entries are assembled by hand so the payload is encoded only once. Name, org and env
    match patterns of JSON-safe characters, so they need no escaping."""
    env_json = "null" if env is None else f'"{env}"'
    key_json = "null" if idempotency_key is None else json.dumps(idempotency_key)
    return (
        f'","org":"{org}","env":{env_json},"idempotency_key":{key_json},'
        f'"published_at":{published_at},"payload":'
    )


def parse_envelope(raw: bytes | str, *, received_at: float | None = None) -> Event:
    """The event in a stream entry; ``InvalidEvent`` says why an entry is unusable.

    ``received_at`` (when Redis took the entry) stands in for a missing or unusable
    ``published_at``: the history is partitioned by publish time, which must be the same
    each time the entry is read."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidEvent(f"entry is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidEvent("entry is not a JSON object")
    event_id = data.get("id")
    try:
        event_id = str(uuid.UUID(str(event_id)))
    except ValueError:
        raise InvalidEvent(f"entry has no valid id: {event_id!r}") from None
    name = check_name(data.get("name"))
    org = check_scope("org", data.get("org"))
    if org is None:
        raise InvalidEvent("entry has no org")
    env = check_scope("env", data.get("env"))
    payload = data.get("payload")
    payload_json = encode_payload(payload)
    try:
        key = check_idempotency_key(data.get("idempotency_key"))
    except InvalidEvent:
        raise InvalidEvent("entry has an invalid idempotency_key") from None
    published_at = data.get("published_at")
    if (
        not isinstance(published_at, int | float)
        or isinstance(published_at, bool)
        or not math.isfinite(published_at)
        or not 0 <= published_at <= _MAX_TIMESTAMP
    ):
        published_at = received_at
    return Event(
        id=event_id,
        name=name,
        org=org,
        env=env,
        payload=payload if isinstance(payload, dict) else {},
        idempotency_key=key,
        published_at=published_at,
        payload_json=payload_json,
    )
