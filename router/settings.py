"""Settings, read from ``EVENTROUTER_*`` environment variables (or passed in).

Code receives a ``Settings`` instance; only the Celery app builds its own, because
Celery loads the app by import path.
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from eventrouter.router.durations import parse_duration, parse_schedule
from eventrouter.router.retention import parse_retention

MAX_REQUEST_TIMEOUT_SECONDS = 300.0
"""The longest request timeout a destination (or ``request_timeout_seconds``) may set."""


REDIS_SCHEMES = ("redis:", "rediss:", "unix:", "redis+sentinel:")
"""URL schemes every Redis client here takes: plain, TLS, a Unix socket, or Sentinel
(``redis_conn`` turns ``redis+sentinel://`` into redis-py's and Celery's own forms)."""
_POSTGRES_SCHEMES = ("postgres://", "postgresql://")
EXAMPLES = {
    "database_url": "postgresql://postgres@127.0.0.1:5432/eventrouter",
    "redis_url": "redis://127.0.0.1:6379/0",
    "broker_url": "redis://127.0.0.1:6379/1",
    "retry_schedule": "5s,5m,30m,2h",
    "auto_disable_after": "24h",
    "allowed_networks": "127.0.0.0/8,10.0.0.0/8",
}
"""What a good value looks like, for error messages (numbers need none)."""


def postgres_url(url: str) -> str:
    """``url`` for SQLAlchemy with the psycopg driver: ``postgres://`` and ``postgresql://``
    (what Heroku, RDS and libpq write) are mapped to ``postgresql+psycopg://``."""
    for scheme in _POSTGRES_SCHEMES:
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    if not url.startswith("postgresql+"):
        raise ValueError("not a Postgres URL: it must start with postgresql:// or postgres://")
    return url


def describe_errors(exc: ValidationError) -> str:
    """One line per bad setting: the variable, what is wrong with its value, an example."""
    lines = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else ""
        message = str(error["msg"]).removeprefix("Value error, ")
        example = EXAMPLES.get(field)
        variable = f"EVENTROUTER_{field.upper()}"
        # URLs may carry a password: name the variable, never echo its value.
        shown = variable if field.endswith("_url") else f"{variable}={error.get('input')!s}"
        lines.append(f"{shown}: {message}" + (f" (e.g. {variable}={example})" if example else ""))
    return "; ".join(lines)


class Settings(BaseSettings):
    """Every knob, with the default a local install needs."""

    model_config = SettingsConfigDict(env_prefix="EVENTROUTER_", extra="ignore")

    database_url: str = "postgresql+psycopg://postgres@127.0.0.1:5432/eventrouter"
    """SQLAlchemy URL of the Postgres database holding config and the delivery log."""
    redis_url: str = "redis://127.0.0.1:6379/0"
    """Redis holding the ingress stream and (unless ``broker_url`` is set) Celery's queue."""
    broker_url: str | None = None
    """Celery broker URL; defaults to ``redis_url``."""
    org: str = "default"
    """Organisation used when ``publish()`` and the CLI are not given one."""
    retry_schedule: str = "5s,5m,30m,2h,5h,10h,10h"
    """Delays between attempts; one more attempt than delays. Destinations may override."""
    stream: str = "eventrouter:events"
    """Redis stream that publish() appends to and routers read."""
    queue: str = "eventrouter"
    """Celery queue carrying delivery tasks."""
    router_batch_size: int = Field(default=500, ge=1, le=10_000)
    """Stream entries read (and events committed) per router transaction."""
    router_linger_ms: float = Field(default=10.0, ge=0, le=1_000)
    """Under a steady flow of events (entries read within 0.1 s of the previous ones), a
    short batch waits for more until its oldest entry has been in the stream this long:
    one batch, one transaction and one task per destination then carry several events
    instead of one (a task costs a worker CPU whatever its size). Entries that waited
    while the previous batch was stored go at once; a lone event is not delayed. 0
    disables."""
    router_block_ms: int = Field(default=500, ge=10, le=10_000)
    """How long a router waits on an empty stream before doing housekeeping."""
    claim_idle_seconds: float = Field(default=60.0, gt=0)
    """Stream entries left unacked this long by a dead router are taken over by a live one."""
    config_refresh_seconds: float = Field(default=1.0, gt=0)
    """How often a router checks whether channels, destinations or subscriptions changed."""
    scheduler_interval_seconds: float = Field(default=1.0, gt=0)
    """How often a router looks for due retries and expired leases."""
    max_queued_tasks: int = Field(default=200, ge=0)
    """The router stops reading the stream while this many delivery tasks wait in the
    Celery queue (0: no limit). A backlog then waits in the stream, not in the broker,
    and no task waits long enough to be dispatched twice (``dispatch_grace_seconds``)."""
    dispatch_grace_seconds: float = Field(default=60.0, gt=0)
    """A dispatched delivery not claimed by a worker within this time is dispatched again."""
    lease_seconds: float = Field(default=120.0, gt=0)
    """Margin a worker may hold a delivery beyond ``delivery_time_box_seconds`` plus one
    request timeout before it counts as lost and returns to ``pending``."""
    delivery_batch_size: int = Field(default=100, ge=1, le=5_000)
    """Deliveries carried by one Celery task (all to one destination)."""
    delivery_time_box_seconds: float = Field(default=10.0, gt=0, le=3600)
    """A task starts no new request after this long; the rest of its batch goes back to
    ``pending`` for the scheduler, so one slow destination cannot hold a worker for long."""
    slow_request_seconds: float = Field(default=1.0, gt=0)
    """A destination whose requests take this long (or time out) counts as slow: at most
    ``slow_destination_workers`` worker processes serve it at once; its other tasks wait."""
    slow_destination_workers: int = Field(default=1, ge=1, le=1_000)
    """Worker processes (across all hosts) that may serve one slow destination at once."""
    slow_destination_concurrency: int = Field(default=10, ge=1, le=100)
    """Requests such a process keeps in flight at once to a slow destination (threads)."""
    auto_disable_after: str = "24h"
    """A destination that failed every attempt for this long is disabled (``0`` never)."""
    auto_disable_min_attempts: int = Field(default=10, ge=1)
    """…and only if it had at least this many attempts in that time."""
    allowed_networks: str = ""
    """Comma-separated CIDRs destinations may reach although they are not public
    (loopback, private, link-local…); e.g. ``127.0.0.0/8`` for a local receiver."""
    delivery_lanes: int = Field(default=4, ge=1, le=64)
    """Requests a worker process keeps in flight at once to any other destination: a batch
    goes out over this many lanes, which hides the round trip to the destination."""
    stream_max_length: int = Field(default=1_000_000, ge=1)
    """Unrouted events the stream may hold; beyond it ``publish()`` raises ``StreamFull``
    (a ``PublishError``) instead of dropping anything. Routers drain it."""
    request_timeout_seconds: float = Field(default=10.0, gt=0, le=MAX_REQUEST_TIMEOUT_SECONDS)
    """Default timeout for destinations that do not set one: the most one request may take,
    connecting, sending and reading the answer together."""
    response_excerpt_bytes: int = Field(default=4096, ge=0, le=65_536)
    """How much of each response body is kept in ``delivery_attempts.response_body``."""
    worker_concurrency: int | None = Field(default=None, ge=1)
    """Worker processes per ``eventrouter worker`` (default: number of CPUs + 1, so a
    process waiting on a slow destination leaves every CPU busy with the others)."""
    secret_key: str | None = None
    """Fernet key(s), comma-separated, encrypting destination secrets; the first encrypts."""
    secret_key_file: str = "~/.config/eventrouter/secret-key"
    """Where the key is read from when ``secret_key`` is unset (``db upgrade`` creates it)."""
    heartbeat_file: str = ""
    """A file routers and workers touch every few seconds while they run (empty: none);
    ``eventrouter health --check heartbeat`` reads its age, for a liveness probe."""
    publish_retries: int = Field(default=3, ge=0, le=10)
    """How many times publish() retries a failed Redis call before raising PublishError."""
    retention: str = ""
    """How long the history (events, deliveries, attempts) is kept, e.g. ``30d``: routers
    drop, hourly, each week (a partition) that ended longer ago than this, once none of
    its deliveries is still pending or delivering. Empty or ``0``: kept forever."""

    publisher_queue_size: int = Field(default=10_000, ge=1, le=1_000_000)
    """Events a background ``Publisher`` holds in memory; at this many, the caller moves
    them to the spool in one write, so memory stays bounded while Redis is slow or down."""
    publisher_batch_size: int = Field(default=500, ge=1, le=10_000)
    """Events the background thread sends per round trip (one ``publish_many`` call)."""
    publisher_flush_interval: float = Field(default=0.2, gt=0, le=60)
    """Seconds between the background thread's moves of queued events to the spool while
    Redis is down: ``kill -9`` loses at most the events published in this interval."""
    publisher_exit_timeout: float = Field(default=5.0, ge=0, le=300)
    """Seconds a ``Publisher`` spends sending what it holds at interpreter exit (or on
    ``close()``); what is left stays in the spool for the next one."""
    spool_dir: str = "~/.local/state/eventrouter/spool"
    """Directory of the background publisher's disk spool (one SQLite file)."""
    spool_max_bytes: int = Field(default=256 * 2**20, ge=1024)
    """Most bytes of events the spool holds (256 MiB); beyond it ``spool_full_policy``."""
    spool_full_policy: Literal["drop_new", "drop_oldest", "block"] = "drop_new"
    """What a full spool does: refuse new events (``drop_new``), delete the oldest
    (``drop_oldest``), or make ``publish()`` wait for room (``block``). Drops are counted
    in ``Publisher.stats()`` and logged."""
    spool_sync: Literal["normal", "full"] = "normal"
    """``normal``: a spooled event survives ``kill -9`` of the producer; ``full``: also a
    power loss (an fsync per write, slower)."""
    idempotency_key_ttl: str = "24h"
    """How long Redis remembers an idempotency key: a repeat within it is answered with
    the first event's id and never enters the stream. After it, a repeat still gets the
    first id (ids of keyed events derive from org and key) and the router stores nothing
    for it while the first event is kept. ``0`` remembers nothing in Redis."""

    metrics_token: str | None = None
    """A bearer token that may read ``/metrics`` and nothing else (for Prometheus); without
    it, ``/metrics`` takes an admin's API token."""
    metrics_public: bool = False
    """Serve ``/metrics`` without any token (when only your monitoring can reach the API)."""

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str) -> str:
        return postgres_url(value)

    @field_validator("redis_url", "broker_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(REDIS_SCHEMES):
            raise ValueError(
                f"not a Redis URL: it must start with {', '.join(s + '//' for s in REDIS_SCHEMES)}"
                " (Sentinel: redis+sentinel://host:26379[,host2:26379]/master-name[/db])"
            )
        if value is not None and value.startswith("redis+sentinel:"):
            from eventrouter.router.redis_conn import parse_sentinel_url

            parse_sentinel_url(value)  # a malformed one fails here, naming the right form
        return value

    @field_validator("retry_schedule")
    @classmethod
    def _schedule_parses(cls, value: str) -> str:
        parse_schedule(value)
        return value

    @field_validator("auto_disable_after", "idempotency_key_ttl")
    @classmethod
    def _window_parses(cls, value: str) -> str:
        parse_duration(value)
        return value

    @field_validator("allowed_networks")
    @classmethod
    def _networks_parse(cls, value: str) -> str:
        from eventrouter.router.netguard import parse_networks

        parse_networks(value)
        return value

    @field_validator("retention")
    @classmethod
    def _retention_parses(cls, value: str) -> str:
        if value.strip() not in ("", "0"):
            parse_retention(value)
        return value

    @property
    def retention_seconds(self) -> float | None:
        """The retention period, or ``None`` when the history is kept forever."""
        if self.retention.strip() in ("", "0"):
            return None
        return parse_retention(self.retention)

    @property
    def auto_disable_after_seconds(self) -> float:
        return parse_duration(self.auto_disable_after)

    @property
    def idempotency_key_ttl_seconds(self) -> float:
        return parse_duration(self.idempotency_key_ttl)

    @cached_property
    def retry_delays(self) -> tuple[float, ...]:
        return parse_schedule(self.retry_schedule)

    @property
    def secret_keys(self) -> str | None:
        from eventrouter.router.crypto import key_setting

        return key_setting(self.secret_key, self.secret_key_file)

    @property
    def default_concurrency(self) -> int:
        return (os.cpu_count() or 1) + 1

    @property
    def celery_broker_url(self) -> str:
        return self.broker_url or self.redis_url
