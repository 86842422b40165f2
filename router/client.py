"""``publish()``: validate an event, append it to the Redis stream, return its id.

One round trip per call (one per batch with ``publish_many``). The function returns
only after Redis accepted the entry; otherwise it raises ``PublishError``.

Back-pressure: the stream holds only events no router has stored yet (routers delete
what they stored). When it already holds ``stream_max_length`` of them (routers stopped
or far behind), ``publish()`` raises ``StreamFull``, a ``PublishError``, and appends
nothing. The length check and the append are one Lua script, so they are atomic and
still one round trip; a stream is never trimmed, so nothing accepted is ever dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import redis
from redis.commands.core import Script

from eventrouter.router.errors import InvalidEvent, PublishError, StreamFull
from eventrouter.router.events import STREAM_FIELD, build_envelope
from eventrouter.router.redis_conn import redis_client, redis_unavailable_message
from eventrouter.router.settings import Settings

_default_settings: Settings | None = None

# KEYS[1] stream; ARGV[1] max length; ARGV[2] field name; ARGV[3..] entries.
# Returns {1, new length} when appended, {0, current length} when full (nothing appended).
_APPEND_UNLESS_FULL = """
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
_scripts: dict[int, Script] = {}


def _settings(settings: Settings | None) -> Settings:
    global _default_settings
    if settings is not None:
        return settings
    if _default_settings is None:
        _default_settings = Settings()
    return _default_settings


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
    ``PublishError`` when Redis does not accept the event after a short retry.
    """
    config = _settings(settings)
    event_id, entry = build_envelope(
        name, payload, org=org or config.org, env=env, idempotency_key=idempotency_key
    )
    _append(config, [entry])
    return event_id


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
    anything is sent, so an ``InvalidEvent`` (naming the item's index) sends nothing.
    """
    config = _settings(settings)
    envelopes: list[tuple[str, str]] = []
    for index, item in enumerate(events):
        try:
            if isinstance(item, tuple):
                name, payload = item
                envelopes.append(
                    build_envelope(
                        name, payload, org=org or config.org, env=env, idempotency_key=None
                    )
                )
            else:
                unknown = set(item) - {"name", "payload", "env", "org", "idempotency_key"}
                if unknown:
                    raise InvalidEvent(f"unknown field(s) {', '.join(sorted(unknown))}")
                envelopes.append(
                    build_envelope(
                        item.get("name"),  # type: ignore[arg-type]
                        item.get("payload"),
                        org=item.get("org") or org or config.org,
                        env=item.get("env", env),
                        idempotency_key=item.get("idempotency_key"),
                    )
                )
        except InvalidEvent as exc:
            raise InvalidEvent(f"event #{index}: {exc}") from None
        except (TypeError, ValueError):
            raise InvalidEvent(
                f"event #{index}: expected (name, payload) or a mapping with 'name'"
            ) from None
    if not envelopes:
        return []
    _append(config, [entry for _, entry in envelopes])
    return [event_id for event_id, _ in envelopes]


def _append(config: Settings, entries: list[str]) -> None:
    """Append all ``entries`` in one round trip, or none of them when the stream is full."""
    client = redis_client(config.redis_url, retries=config.publish_retries)
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts.setdefault(id(client), client.register_script(_APPEND_UNLESS_FULL))
    try:
        appended, length = script(
            keys=[config.stream], args=[config.stream_max_length, STREAM_FIELD, *entries]
        )
    except redis.RedisError as exc:
        raise PublishError(redis_unavailable_message(config.redis_url, exc)) from exc
    if not appended:
        raise StreamFull(
            f"stream {config.stream!r} already holds {length} unrouted events "
            f"(EVENTROUTER_STREAM_MAX_LENGTH={config.stream_max_length}), so "
            f"{'this event was' if len(entries) == 1 else f'these {len(entries)} events were'}"
            " not published: check that routers are running, then retry later"
        )
