"""A rate limiter shared by every worker: GCRA (a token bucket kept as one timestamp) in Redis.

Each target (a Slack webhook or channel) has a *theoretical arrival time* key. A request
may go once that time, less the burst allowance, has come. A slot at most ``max_wait``
ahead is reserved and the caller sleeps until it; a later one is refused with the time to
come back, and successive refusals are spaced one interval apart on a second key so a
storm returns as a queue rather than a stampede. Redis's own clock is used, so workers on
different hosts agree. If Redis cannot be reached the limiter lets the request through
(and logs it): the provider's own 429 handling is the backstop.
"""

from __future__ import annotations

import logging
from typing import Any

import redis

from eventrouter.router.destinations.base import Permit
from eventrouter.router.destinations.classify import bounded_wait

log = logging.getLogger("eventrouter.worker")

_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - (burst - 1) * interval - now
if wait < 0 then wait = 0 end
if wait <= max_wait then
  local new_tat = tat + interval
  redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + 1000)
  return {1, wait}
end
local queue = tonumber(redis.call('GET', KEYS[2]) or '0')
if queue < now + wait then queue = now + wait end
redis.call('SET', KEYS[2], queue + interval, 'PX', queue + interval - now + 1000)
return {0, queue - now}
"""

_HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local until_ms = now + tonumber(ARGV[3]) + (burst - 1) * interval
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < until_ms then
  redis.call('SET', KEYS[1], until_ms, 'PX', until_ms - now + 1000)
end
return 1
"""


class RedisRateLimiter:
    """``base.RateLimiter`` on Redis. Keys are ``{prefix}{key}`` and ``{prefix}{key}:queue``."""

    def __init__(
        self, client: redis.Redis, *, prefix: str = "eventrouter:ratelimit:", max_wait: float = 2.0
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._max_wait_ms = int(max_wait * 1000)
        self._acquire: Any = client.register_script(_ACQUIRE)
        self._hold: Any = client.register_script(_HOLD)
        self._last: dict[str, tuple[int, int]] = {}

    def acquire(self, key: str, *, rate: float, burst: int) -> Permit:
        interval = max(1, round(1000 / rate))
        self._last[key] = (interval, burst)
        full = self._prefix + key
        try:
            granted, wait_ms = self._acquire(
                keys=[full, full + ":queue"], args=[interval, burst, self._max_wait_ms]
            )
        except redis.RedisError as exc:
            log.warning("rate limiter unavailable (%s); sending without it", exc)
            return Permit(True, 0.0)
        return Permit(bool(granted), int(wait_ms) / 1000)

    def hold(self, key: str, seconds: float) -> None:
        seconds = bounded_wait(seconds) or 0.0  # whatever the provider asked for
        interval, burst = self._last.get(key, (1000, 1))
        try:
            self._hold(keys=[self._prefix + key], args=[interval, burst, int(seconds * 1000)])
        except redis.RedisError as exc:
            log.warning("rate limiter unavailable (%s); could not hold %s", exc, key)
