"""Redis clients shared per URL, and the message that names the URL when it is down.

Besides redis-py's own URLs (``redis://``, ``rediss://``, ``unix://``) every Redis URL may
name a Sentinel-managed master:

    redis+sentinel://[[user]:password@]host:26379[,host2:26379…]/master-name[/db]
        [?sentinel_password=…]

The password is the master's; ``sentinel_password`` is the Sentinels' own, if they ask
for one. Clients then follow fail-overs: each connection asks the Sentinels where the
master is.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit, urlunsplit

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from eventrouter.router.errors import ConfigError

SENTINEL_SCHEME = "redis+sentinel"
SENTINEL_PORT = 26379

_clients: dict[tuple[str, int], redis.Redis] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class SentinelURL:
    """A ``redis+sentinel://`` URL, taken apart."""

    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int
    username: str | None
    password: str | None
    sentinel_password: str | None


def parse_sentinel_url(url: str) -> SentinelURL | None:
    """The parts of a ``redis+sentinel://`` URL; None for any other scheme."""
    parts = urlsplit(url)
    if parts.scheme != SENTINEL_SCHEME:
        return None
    hosts = parts.netloc.rsplit("@", 1)[-1]
    sentinels = []
    for host in filter(None, hosts.split(",")):
        name, _, port = host.rpartition(":") if ":" in host else (host, "", "")
        if not name or (port and not port.isdigit()):
            raise ConfigError(f"bad Sentinel address {host!r} in {safe_redis_url(url)}")
        sentinels.append((name, int(port or SENTINEL_PORT)))
    path = [p for p in parts.path.split("/") if p]
    if not sentinels or not path or len(path) > 2 or (len(path) == 2 and not path[1].isdigit()):
        raise ConfigError(
            f"bad Sentinel URL {safe_redis_url(url)}: write "
            "redis+sentinel://[:password@]host:26379[,host2:26379]/master-name[/db]"
        )
    userinfo = parts.netloc.rsplit("@", 1)[0] if "@" in parts.netloc else ""
    user, _, password = userinfo.partition(":")
    query = parse_qs(parts.query)
    return SentinelURL(
        sentinels=tuple(sentinels),
        master=unquote(path[0]),
        db=int(path[1]) if len(path) == 2 else 0,
        username=unquote(user) or None,
        password=unquote(password) or None,
        sentinel_password=query.get("sentinel_password", [None])[0],
    )


def safe_redis_url(url: str) -> str:
    """``url`` with any password (the Sentinels' too) replaced by ``***``."""
    parts = urlsplit(url)
    if "sentinel_password=" in parts.query:
        parts = parts._replace(query="sentinel_password=***")
    if "@" not in parts.netloc or ":" not in parts.netloc.rsplit("@", 1)[0]:
        return urlunsplit(parts)
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.netloc.rsplit("@", 1)[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


def celery_broker(url: str) -> tuple[str, dict[str, Any]]:
    """Celery's broker URL and transport options for ``url``: kombu spells Sentinel
    ``sentinel://h1:p1;sentinel://h2:p2`` with the master's name as an option."""
    sentinel = parse_sentinel_url(url)
    if sentinel is None:
        return url, {}
    auth = ""
    if sentinel.password:
        auth = f"{quote(sentinel.username or '', safe='')}:{quote(sentinel.password, safe='')}@"
    broker = ";".join(
        f"sentinel://{auth}{host}:{port}/{sentinel.db}" for host, port in sentinel.sentinels
    )
    options: dict[str, Any] = {"master_name": sentinel.master}
    if sentinel.sentinel_password:
        options["sentinel_kwargs"] = {"password": sentinel.sentinel_password}
    return broker, options


def redis_client(url: str, *, retries: int = 3) -> redis.Redis:
    """A process-wide client for ``url``: pooled, short timeouts, bounded retries."""
    key = (url, retries)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _connect(url, retries)
                _clients[key] = client
    return client


def _connect(url: str, retries: int) -> redis.Redis:
    options: dict[str, Any] = {
        "socket_connect_timeout": 2,
        "socket_timeout": 10,
        "health_check_interval": 30,
        "retry": Retry(ExponentialBackoff(cap=1.0, base=0.05), retries),
        "retry_on_error": [redis.ConnectionError, redis.TimeoutError],
    }
    sentinel = parse_sentinel_url(url)
    if sentinel is None:
        return redis.Redis.from_url(url, **options)
    sentinels = Sentinel(  # type: ignore[no-untyped-call]
        list(sentinel.sentinels),
        sentinel_kwargs={"password": sentinel.sentinel_password, "socket_connect_timeout": 2},
        socket_connect_timeout=2,
    )
    master: redis.Redis = sentinels.master_for(  # type: ignore[no-untyped-call]
        sentinel.master,
        db=sentinel.db,
        username=sentinel.username,
        password=sentinel.password,
        **options,
    )
    return master


def redis_unavailable_message(url: str, exc: BaseException) -> str:
    return (
        f"cannot reach Redis at {safe_redis_url(url)} ({exc}); start Redis or set "
        "EVENTROUTER_REDIS_URL"
    )
