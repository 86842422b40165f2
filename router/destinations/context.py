"""The ``SendContext`` a process hands to destination adapters: one keep-alive HTTP client
(``transport.http_client``, behind the SSRF guard) and the Redis-backed rate
limiter. Built once per process, after Celery's fork."""

from __future__ import annotations

from eventrouter.router.destinations import SendContext
from eventrouter.router.destinations.ratelimit import RedisRateLimiter
from eventrouter.router.destinations.transport import http_client
from eventrouter.router.netguard import parse_networks
from eventrouter.router.redis_conn import redis_client
from eventrouter.router.settings import Settings


def make_send_context(settings: Settings, *, rate_limit_wait: float = 2.0) -> SendContext:
    """A context on ``settings``' Redis. ``rate_limit_wait``: longest sleep for a slot before a
    delivery is deferred instead (the CLI's test send waits longer rather than defer)."""
    allowed = parse_networks(settings.allowed_networks)
    # The lean transport, behind the SSRF guard: every new connection goes to an address
    # the guard resolved and checked (pinned), TLS still verified against the host name.
    http = http_client(settings.request_timeout_seconds, allowed=allowed)
    limiter = RedisRateLimiter(
        redis_client(settings.redis_url),
        prefix=f"{settings.queue}:ratelimit:",
        max_wait=rate_limit_wait,
    )
    return SendContext(
        http=http,
        default_timeout=settings.request_timeout_seconds,
        excerpt_bytes=settings.response_excerpt_bytes,
        rate_limiter=limiter,
        allowed_networks=allowed,
    )
