"""What ``/metrics`` reports, and who may read it.

Counters come from the hash every router and worker adds to (``router.telemetry``); the
backlog is read when asked: the stream (length, entries read but not yet stored), the Celery
queue, and the deliveries waiting in Postgres. The figures cover the whole installation, every
org, so reading them takes an admin's token, the dedicated ``EVENTROUTER_METRICS_TOKEN``, or
``EVENTROUTER_METRICS_PUBLIC``.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis
from sqlalchemy import Engine

from eventrouter.router import telemetry
from eventrouter.router.control.caller import Role
from eventrouter.router.control.tokens import authenticate
from eventrouter.router.db import backlog as store
from eventrouter.router.db import translating_errors
from eventrouter.router.errors import Forbidden, ServiceUnavailable, Unauthorized
from eventrouter.router.redis_conn import redis_client, redis_unavailable_message
from eventrouter.router.settings import Settings

ROUTER_GROUP = "routers"
"""The routers' consumer group on the stream (``router.stream.GROUP``)."""
CELERY_PRIORITY_SEPARATOR = "\x06\x16"
CELERY_PRIORITY_STEPS = (0, 3, 6, 9)
"""kombu's Redis transport keeps one list per priority step: ``queue``, ``queue\\x06\\x163``…"""


@dataclass(frozen=True, slots=True)
class Snapshot:
    counters: dict[str, float]
    stream_length: int
    stream_pending: int
    queue_length: int | None
    """``None`` when the broker is not Redis (its queue cannot be read this way)."""
    backlog: store.Backlog


def authorize(engine: Engine, settings: Settings, token: str | None) -> None:
    """Let the request read the metrics, or raise ``Unauthorized``/``Forbidden``."""
    if settings.metrics_public:
        return
    metrics_token = settings.metrics_token
    if token and metrics_token and hmac.compare_digest(token.encode(), metrics_token.encode()):
        return
    if not token:
        raise Unauthorized(
            "/metrics needs a bearer token: an admin's API token or EVENTROUTER_METRICS_TOKEN"
        )
    caller = authenticate(engine, settings, token)
    if not caller.role.includes(Role.ADMIN):
        raise Forbidden(
            "/metrics covers every org, so it needs an admin token or EVENTROUTER_METRICS_TOKEN"
        )


def snapshot(engine: Engine, settings: Settings) -> Snapshot:
    """Every figure, read now."""
    client = redis_client(settings.redis_url)
    try:
        counters = telemetry.read(settings)
        pipe = client.pipeline(transaction=False)
        pipe.xlen(settings.stream)
        pipe.xpending(settings.stream, ROUTER_GROUP)
        stream_length, pending = pipe.execute(raise_on_error=False)
    except redis.RedisError as exc:
        raise ServiceUnavailable(redis_unavailable_message(settings.redis_url, exc)) from exc
    stream_pending = int(pending["pending"]) if isinstance(pending, dict) else 0
    length = int(stream_length) if isinstance(stream_length, int) else 0
    with translating_errors(settings.database_url), engine.connect() as conn:
        backlog = store.backlog(conn)
    return Snapshot(counters, length, stream_pending, _queue_length(settings), backlog)


def _queue_length(settings: Settings) -> int | None:
    """Tasks waiting in the Celery queue, read straight from a Redis broker."""
    url = settings.celery_broker_url
    if urlsplit(url).scheme not in ("redis", "rediss"):
        return None
    queue = settings.queue
    keys = [
        queue if step == 0 else f"{queue}{CELERY_PRIORITY_SEPARATOR}{step}"
        for step in CELERY_PRIORITY_STEPS
    ]
    try:
        pipe = redis_client(url).pipeline(transaction=False)
        for key in keys:
            pipe.llen(key)
        return sum(int(n) for n in pipe.execute())
    except redis.RedisError:
        return None
