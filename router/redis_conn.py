"""Redis clients shared per URL, and the message that names the URL when it is down."""

from __future__ import annotations

import threading
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

_clients: dict[tuple[str, int], redis.Redis] = {}
_lock = threading.Lock()


def safe_redis_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def redis_client(url: str, *, retries: int = 3) -> redis.Redis:
    """A process-wide client for ``url``: pooled, short timeouts, bounded retries."""
    key = (url, retries)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = redis.Redis.from_url(
                    url,
                    socket_connect_timeout=2,
                    socket_timeout=10,
                    health_check_interval=30,
                    retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), retries),
                    retry_on_error=[redis.ConnectionError, redis.TimeoutError],
                )
                _clients[key] = client
    return client


def redis_unavailable_message(url: str, exc: BaseException) -> str:
    return (
        f"cannot reach Redis at {safe_redis_url(url)} ({exc}); start Redis or set "
        "EVENTROUTER_REDIS_URL"
    )
