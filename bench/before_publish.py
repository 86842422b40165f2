"""``publish()`` and ``publish_many()`` as they were when issue 14 was filed (commit
196adb2^): the baseline of the producer benchmark's ratios, frozen here so it does not
speed up with the code it is compared to.

Then, per event: names and scopes matched by regex every time, the payload checked and
encoded with ``json.dumps`` (size, NUL and depth checks), a UUIDv7 from ``os.urandom``,
the entry assembled by hand, and the length-checking Lua script sent through redis-py's
``Script`` (its command machinery: pool checkout, argument handling, reply parsing).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

from eventrouter.router.redis_conn import redis_client
from eventrouter.router.settings import Settings

_NAME = re.compile(r"[A-Za-z0-9:._\-/]{1,200}")
_SCOPE = re.compile(r"[A-Za-z0-9:._\-/]{1,100}")
_JSON_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")
_MAX_PAYLOAD_BYTES = 256 * 1024
_MAX_DEPTH = 100
SCRIPT = """
local length = redis.call('XLEN', KEYS[1])
local count = #ARGV - 2
if length + count > tonumber(ARGV[1]) then
  return {0, length}
end
for i = 3, #ARGV do
  redis.call('XADD', KEYS[1], '*', ARGV[2], ARGV[i])
end
return {1, length + count}
"""


def _event_id() -> str:
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= (rand >> 68) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    digits = f"{value:032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _payload_json(payload: Mapping[str, Any] | None) -> str:
    payload = {} if payload is None else payload
    if not isinstance(payload, dict):
        raise ValueError("payload must be a dict")
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    if "\\u0000" in text and _JSON_NUL.search(text):
        raise ValueError("payload contains NUL")
    if len(text.encode()) > _MAX_PAYLOAD_BYTES:
        raise ValueError("payload too large")
    if text.count("{") + text.count("[") > _MAX_DEPTH:
        raise ValueError("payload may be too deep (the old depth walk is not copied)")
    return text


def envelope(name: str, payload: Mapping[str, Any] | None, *, org: str) -> tuple[str, str]:
    """``(event_id, entry)`` built as ``build_envelope`` did then (no env, no key)."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(f"bad name {name!r}")
    if not _SCOPE.fullmatch(org):
        raise ValueError(f"bad org {org!r}")
    payload_json = _payload_json(payload)
    event_id = _event_id()
    return event_id, (
        f'{{"id":"{event_id}","name":"{name}","org":"{org}","env":null,'
        f'"idempotency_key":null,"published_at":{round(time.time(), 6)!r},'
        f'"payload":{payload_json}}}'
    )


def publisher(settings: Settings) -> tuple[Callable[..., list[str]], Callable[[], None]]:
    """``(publish_many(events) → ids, close)`` of the old path; ``publish()`` was the same
    call with one event."""
    client = redis_client(settings.redis_url, retries=settings.publish_retries)
    script = client.register_script(SCRIPT)

    def publish_many(events: list[tuple[str, Mapping[str, Any] | None]]) -> list[str]:
        built = [envelope(name, payload, org=settings.org) for name, payload in events]
        appended, _ = script(
            keys=[settings.stream],
            args=[settings.stream_max_length, "event", *(entry for _, entry in built)],
        )
        if not appended:
            raise RuntimeError("stream full")
        return [event_id for event_id, _ in built]

    return publish_many, client.close
