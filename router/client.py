"""``publish()``: validate an event, append it to the Redis stream, return its id.

One round trip per call (one per batch with ``publish_many``). The function returns
only after Redis accepted the entry; otherwise it raises ``PublishError``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import redis

from router.errors import InvalidEvent, PublishError
from router.events import STREAM_FIELD, build_envelope
from router.redis_conn import redis_client, redis_unavailable_message
from router.settings import Settings

_default_settings: Settings | None = None


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
    client = redis_client(config.redis_url, retries=config.publish_retries)
    try:
        client.xadd(config.stream, {STREAM_FIELD: entry})
    except redis.RedisError as exc:
        raise PublishError(redis_unavailable_message(config.redis_url, exc)) from exc
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
    client = redis_client(config.redis_url, retries=config.publish_retries)
    pipe = client.pipeline(transaction=False)
    for _, entry in envelopes:
        pipe.xadd(config.stream, {STREAM_FIELD: entry})
    try:
        pipe.execute()
    except redis.RedisError as exc:
        raise PublishError(redis_unavailable_message(config.redis_url, exc)) from exc
    return [event_id for event_id, _ in envelopes]
