"""``publish()``: validate an event, append it to the Redis stream, return its id.

One round trip per call (one per batch with ``publish_many``). The function returns
only after Redis accepted the entry; otherwise it raises ``PublishError``.

Back-pressure: the stream holds only events no router has stored yet (routers delete
what they stored). When it already holds ``stream_max_length`` of them (routers stopped
or far behind), ``publish()`` raises ``StreamFull``, a ``PublishError``, and appends
nothing. The length check and the append are one Lua script, so they are atomic and
still one round trip; a stream is never trimmed, so nothing accepted is ever dropped.

Idempotency: an event with an ``idempotency_key`` gets an id derived from its org and
key (``keyed_event_id``), so every publish of that key returns the first one's id, from
any process, even one that never reached Redis. The script also remembers the key in
Redis for ``idempotency_key_ttl`` and appends a repeat nothing; after that a repeat is
appended and the router, finding its id stored, stores nothing.

The script travels over a lean connection (``wire``), one per thread, recreated after
a fork; ``apublish()`` shares one per event loop.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import os
import random
import threading
import time
import weakref
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import redis

from eventrouter.router.durations import parse_duration
from eventrouter.router.errors import InvalidEvent, PublishError, StreamFull
from eventrouter.router.events import (
    STREAM_FIELD,
    Stamp,
    build_envelope,
    check_name,
    check_scope,
    entry_tail,
    payload_entry,
)
from eventrouter.router.redis_conn import redis_client, redis_unavailable_message
from eventrouter.router.settings import Settings
from eventrouter.router.wire import (
    AsyncWireConnection,
    ReplyError,
    WireConnection,
    WireError,
    lean_address,
)

MAX_BATCH_EVENTS = 10_000
"""The most events one ``publish_many`` call (one script run) may carry."""
MAX_BATCH_BYTES = 64 * 1024 * 1024
"""…and the most bytes of entries: Redis holds the whole call in memory while it runs."""
Envelope = tuple[str, str, str]
"""``(event_id, stream entry JSON, Redis key remembering its idempotency key or "")``."""

# KEYS[1] stream; ARGV[1] max length; ARGV[2] field name; ARGV[3] key ttl (ms, 0: none);
# ARGV[4] K, the number of keyed entries; then K pairs (ARGV index of the entry, Redis key
# remembering its idempotency key); then the entries. Keys travel apart from the entries
# so a batch without any costs no extra argument per entry.
# Returns {1, new length} when appended, {0, current length} when full (nothing appended).
_APPEND_UNLESS_FULL = """
local length = redis.call('XLEN', KEYS[1])
local first = 5 + 2 * tonumber(ARGV[4])
if length + #ARGV - first + 1 > tonumber(ARGV[1]) then
  return {0, length}
end
local seen = {}
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  for i = 5, first - 1, 2 do
    if not redis.call('SET', ARGV[i + 1], '1', 'NX', 'PX', ttl) then
      seen[tonumber(ARGV[i])] = true
    end
  end
end
local field = ARGV[2]
for i = first, #ARGV do
  if not seen[i] then
    redis.call('XADD', KEYS[1], '*', field, ARGV[i])
    length = length + 1
  end
end
return {1, length}
"""
_SCRIPT_SHA = hashlib.sha1(_APPEND_UNLESS_FULL.encode()).hexdigest()
_default_settings: Settings | None = None
_local = threading.local()
# Bumped in a forked child, so its threads make new connections (a counter read instead
# of a getpid() system call per publish).
_process_generation = 0


def _forked() -> None:
    global _process_generation
    _process_generation += 1
    _loop_connections.clear()


_loop_connections: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, dict[str, AsyncWireConnection]
] = weakref.WeakKeyDictionary()
os.register_at_fork(after_in_child=_forked)


def _settings(settings: Settings | None) -> Settings:
    global _default_settings
    if settings is not None:
        return settings
    if _default_settings is None:
        _default_settings = Settings()
    return _default_settings


def envelope(
    config: Settings,
    name: str,
    payload: object,
    *,
    org: str | None,
    env: str | None,
    idempotency_key: str | None,
    stamp: Stamp | None = None,
) -> Envelope:
    """Validate one event (``InvalidEvent``) and return its id, entry and key name."""
    org = org or config.org
    event_id, entry = build_envelope(
        name, payload, org=org, env=env, idempotency_key=idempotency_key, stamp=stamp
    )
    remembered = f"{config.stream}:idempotency:{event_id}" if idempotency_key else ""
    return event_id, entry, remembered


def envelopes(
    config: Settings,
    events: Iterable[Mapping[str, Any] | tuple[str, Mapping[str, Any] | None]],
    *,
    env: str | None,
    org: str | None,
) -> list[Envelope]:
    """Validate a batch: every event, then the batch's size; ``InvalidEvent`` names the
    index of the first bad item.

    The batch shares one ``Stamp`` (clock read and random draw), and its ``(name,
    payload)`` items share the org and env checked once and the entry text that follows
    the name: what is left per event is its name, its payload's JSON and its id."""
    built: list[Envelope] = []
    stamp = Stamp()
    tail: str | None = None  # made at the first (name, payload) item, under its index
    size = 0
    for index, item in enumerate(events):
        try:
            if isinstance(item, tuple):
                name, payload = item
                if tail is None:
                    tail = _batch_tail(config, org, env, stamp)
                check_name(name)
                payload_json = payload_entry(payload)
                event_id = stamp.next_id()
                entry = f'{{"id":"{event_id}","name":"{name}{tail}{payload_json}}}'
                built.append((event_id, entry, ""))
            else:
                unknown = set(item) - {"name", "payload", "env", "org", "idempotency_key"}
                if unknown:
                    raise InvalidEvent(f"unknown field(s) {', '.join(sorted(unknown))}")
                event_id, entry, remembered = envelope(
                    config,
                    item.get("name"),  # type: ignore[arg-type]
                    item.get("payload"),
                    org=item.get("org") or org,
                    env=item.get("env", env),
                    idempotency_key=item.get("idempotency_key"),
                    stamp=stamp,
                )
                built.append((event_id, entry, remembered))
        except InvalidEvent as exc:
            raise type(exc)(f"event #{index}: {exc}") from None  # PayloadTooLarge stays one
        except (TypeError, ValueError):
            raise InvalidEvent(
                f"event #{index}: expected (name, payload) or a mapping with 'name'"
            ) from None
        size += len(entry)
        if index >= MAX_BATCH_EVENTS or size > MAX_BATCH_BYTES:
            raise InvalidEvent(
                f"the batch is too large: publish_many takes at most {MAX_BATCH_EVENTS:,} "
                f"events and {MAX_BATCH_BYTES // 2**20} MiB per call; split it into "
                "smaller batches"
            )
    if len(built) > config.stream_max_length:  # it would be StreamFull however empty the stream
        raise InvalidEvent(
            f"the batch of {len(built):,} events can never fit the stream, which holds at most "
            f"{config.stream_max_length:,} (EVENTROUTER_STREAM_MAX_LENGTH); split it into "
            "smaller batches"
        )
    return built


def _batch_tail(config: Settings, org: str | None, env: str | None, stamp: Stamp) -> str:
    """The entry text after the name for the batch's ``(name, payload)`` items."""
    checked_org = check_scope("org", org or config.org)
    assert checked_org is not None  # the settings always name an org
    return entry_tail(checked_org, check_scope("env", env), None, stamp.published_at)


def publish(
    name: str,
    payload: Mapping[str, Any] | None = None,
    *,
    env: str | None = None,
    org: str | None = None,
    idempotency_key: str | None = None,
    settings: Settings | None = None,
) -> str:
    """Publish one event and return its id once Redis has accepted it.

    Raises ``InvalidEvent`` for a bad name or payload (nothing is sent) and
    ``PublishError`` when Redis does not accept the event after a short retry. With an
    ``idempotency_key`` seen before in the org, returns the first event's id.
    """
    config = _settings(settings)
    built = envelope(config, name, payload, org=org, env=env, idempotency_key=idempotency_key)
    append(config, (built,))
    return built[0]


def publish_many(
    events: Iterable[Mapping[str, Any] | tuple[str, Mapping[str, Any] | None]],
    *,
    env: str | None = None,
    org: str | None = None,
    settings: Settings | None = None,
) -> list[str]:
    """Publish a batch in one round trip; return the ids in order.

    Each item is ``(name, payload)`` or a mapping with ``name`` and optionally
    ``payload``, ``env``, ``org``, ``idempotency_key``. Every event is validated before
    anything is sent, so an ``InvalidEvent`` (naming the item's index) sends nothing; so
    is a batch over ``MAX_BATCH_EVENTS`` events or ``MAX_BATCH_BYTES``.
    """
    config = _settings(settings)
    built = envelopes(config, events, env=env, org=org)
    if built:
        append(config, built)
    return [event_id for event_id, _, _ in built]


async def apublish(
    name: str,
    payload: Mapping[str, Any] | None = None,
    *,
    env: str | None = None,
    org: str | None = None,
    idempotency_key: str | None = None,
    settings: Settings | None = None,
) -> str:
    """``publish()`` for asyncio code: the same contract, without blocking the loop.
    Concurrent calls share one connection per event loop, pipelined."""
    config = _settings(settings)
    built = envelope(config, name, payload, org=org, env=env, idempotency_key=idempotency_key)
    await aappend(config, (built,))
    return built[0]


async def apublish_many(
    events: Iterable[Mapping[str, Any] | tuple[str, Mapping[str, Any] | None]],
    *,
    env: str | None = None,
    org: str | None = None,
    settings: Settings | None = None,
) -> list[str]:
    """``publish_many()`` for asyncio code: the same contract, without blocking the loop."""
    config = _settings(settings)
    built = envelopes(config, events, env=env, org=org)
    if built:
        await aappend(config, built)
    return [event_id for event_id, _, _ in built]


def _script_args(config: Settings, built: Sequence[Envelope]) -> list[str | int]:
    keyed = [(index, remembered) for index, (_, _, remembered) in enumerate(built) if remembered]
    first = 5 + 2 * len(keyed)  # the ARGV index (from 1) of the first entry
    args: list[str | int] = [
        config.stream_max_length,
        STREAM_FIELD.decode(),
        _milliseconds(config.idempotency_key_ttl),
        len(keyed),
    ]
    for index, remembered in keyed:
        args += (first + index, remembered)
    args += [entry for _, entry, _ in built]
    return args


@functools.lru_cache(maxsize=16)
def _milliseconds(duration: str) -> int:
    """A duration setting in ms, parsed once per spelling (not once per publish)."""
    return int(parse_duration(duration) * 1000)


def _check_appended(config: Settings, reply: object, count: int) -> None:
    if not isinstance(reply, list) or len(reply) != 2:
        raise PublishError(f"Redis answered the publish script unexpectedly: {reply!r:.200}")
    appended, length = reply
    if not appended:
        raise StreamFull(
            f"stream {config.stream!r} already holds {length} unrouted events "
            f"(EVENTROUTER_STREAM_MAX_LENGTH={config.stream_max_length}), so "
            f"{'this event was' if count == 1 else f'these {count} events were'}"
            " not published: check that routers are running, then retry later"
        )


def _backoff(attempt: int) -> float:
    """Seconds before retry ``attempt`` (1, 2, …): exponential from 50 ms, at most 1 s,
    with jitter so producers that failed together do not retry together."""
    return random.uniform(0, min(1.0, 0.05 * 2**attempt))


def append(config: Settings, built: Sequence[Envelope], *, retries: int | None = None) -> None:
    """Append every entry in one round trip, or none when the stream is full
    (``StreamFull``); ``PublishError`` when Redis stays unreachable through ``retries``
    (default ``publish_retries``) retries.

    A retry after a reply was lost may append an entry twice: harmless, since the router
    stores an event id once.
    """
    args = _script_args(config, built)
    wire = _thread_connection(config.redis_url)
    if wire is None:
        reply = _append_with_redis_py(config, args)
    else:
        attempts = config.publish_retries if retries is None else retries
        for attempt in range(attempts + 1):
            try:
                reply = _run_script(wire, config.stream, args)
                break
            except WireError as exc:
                if attempt == attempts:
                    raise PublishError(redis_unavailable_message(config.redis_url, exc)) from exc
                time.sleep(_backoff(attempt + 1))
            except ReplyError as exc:
                raise PublishError(redis_unavailable_message(config.redis_url, exc)) from exc
    _check_appended(config, reply, len(built))


async def aappend(config: Settings, built: Sequence[Envelope]) -> None:
    """``append`` on the event loop's shared connection."""
    args = _script_args(config, built)
    wire = _loop_connection(config.redis_url)
    if wire is None:
        reply = await asyncio.to_thread(_append_with_redis_py, config, args)
    else:
        for attempt in range(config.publish_retries + 1):
            try:
                reply = await _arun_script(wire, config.stream, args)
                break
            except WireError as exc:
                if attempt == config.publish_retries:
                    raise PublishError(redis_unavailable_message(config.redis_url, exc)) from exc
                await asyncio.sleep(_backoff(attempt + 1))
            except ReplyError as exc:
                raise PublishError(redis_unavailable_message(config.redis_url, exc)) from exc
    _check_appended(config, reply, len(built))


def _run_script(wire: WireConnection, stream: str, args: list[str | int]) -> object:
    try:
        return wire.call("EVALSHA", _SCRIPT_SHA, 1, stream, *args)
    except ReplyError as exc:
        if not str(exc).startswith("NOSCRIPT"):
            raise
        return wire.call("EVAL", _APPEND_UNLESS_FULL, 1, stream, *args)


async def _arun_script(wire: AsyncWireConnection, stream: str, args: list[str | int]) -> object:
    try:
        return await wire.call("EVALSHA", _SCRIPT_SHA, 1, stream, *args)
    except ReplyError as exc:
        if not str(exc).startswith("NOSCRIPT"):
            raise
        return await wire.call("EVAL", _APPEND_UNLESS_FULL, 1, stream, *args)


def _thread_connection(url: str) -> WireConnection | None:
    """This thread's lean connection to ``url``; ``None`` when the URL needs redis-py.
    A forked child never reuses its parent's socket: connections are per process."""
    if getattr(_local, "generation", None) != _process_generation:
        _local.generation = _process_generation
        _local.connections = {}
    connections: dict[str, WireConnection | None] = _local.connections
    try:
        return connections[url]
    except KeyError:
        address = lean_address(url)
        wire = None if address is None else WireConnection(address, connect_timeout=2, timeout=10)
        connections[url] = wire
        return wire


def _loop_connection(url: str) -> AsyncWireConnection | None:
    loop = asyncio.get_running_loop()
    connections = _loop_connections.setdefault(loop, {})
    wire = connections.get(url)
    if wire is None:
        address = lean_address(url)
        if address is None:
            return None
        wire = connections[url] = AsyncWireConnection(address, connect_timeout=2, timeout=10)
    return wire


def _append_with_redis_py(config: Settings, args: list[str | int]) -> object:
    """The script through redis-py, for URLs the lean connection does not speak (TLS)."""
    client = redis_client(config.redis_url, retries=config.publish_retries)
    try:
        return client.register_script(_APPEND_UNLESS_FULL)(keys=[config.stream], args=args)
    except redis.RedisError as exc:
        raise PublishError(redis_unavailable_message(config.redis_url, exc)) from exc


def unrouted(settings: Settings | None = None) -> int | None:
    """How many published events wait in the stream, not yet stored by a router (routers
    delete what they stored); ``None`` when Redis cannot be asked."""
    config = _settings(settings)
    try:
        return int(redis_client(config.redis_url, retries=0).xlen(config.stream))
    except redis.RedisError:
        return None
