"""The seam between delivery bookkeeping and the outside world.

A destination kind turns (event, config, attempt number) into one request to a
provider and classifies the answer as an ``Outcome``. It never touches Postgres or
Celery: ``workers.delivery`` records what it returns. That cut keeps every provider's
rules testable against a local stand-in server and lets the batch path change how it
sends without touching a single adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Protocol

import httpx
from pydantic import BaseModel

from eventrouter.router.destinations.options import Option
from eventrouter.router.events import Event
from eventrouter.router.netguard import IPNetwork


class OutcomeKind(StrEnum):
    """What one attempt achieved; the values are ``delivery_attempts.outcome``."""

    SUCCEEDED = "succeeded"
    """The provider accepted the message."""
    RETRY = "retry"
    """A transient failure: try again later, per the retry policy."""
    FAILED = "failed"
    """A permanent failure: trying again cannot help."""
    DEFERRED = "deferred"
    """Not attempted: eventrouter's own rate limit said wait. No attempt row is written
    and no attempt is used; the delivery is due again after ``retry_after`` seconds."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of one attempt, as recorded in ``delivery_attempts``."""

    kind: OutcomeKind
    http_status: int | None = None
    error: str | None = None
    response_body: str | None = None
    retry_after: float | None = None
    """Seconds the provider asked us to wait (``Retry-After``), if it said."""
    disable_destination: bool = False
    """The provider says this endpoint is gone for good (e.g. HTTP 410)."""
    timed_out: bool = False
    """The request ran into its timeout: the destination counts as slow whatever the
    timeout (``workers.pacing``), since it held a worker for all of it."""
    receipt: str | None = None
    """The provider's reference to what it made, kept with the attempt: for Slack's Web API
    ``"<channel> <ts>"`` of the posted message, which lets clicks and timeouts update it."""

    @classmethod
    def succeeded(
        cls,
        http_status: int | None = None,
        response_body: str | None = None,
        *,
        receipt: str | None = None,
    ) -> Outcome:
        return cls(OutcomeKind.SUCCEEDED, http_status, None, response_body, receipt=receipt)

    @classmethod
    def retry(
        cls,
        error: str,
        *,
        http_status: int | None = None,
        response_body: str | None = None,
        retry_after: float | None = None,
        timed_out: bool = False,
    ) -> Outcome:
        return cls(
            OutcomeKind.RETRY, http_status, error, response_body, retry_after, timed_out=timed_out
        )

    @classmethod
    def failed(
        cls,
        error: str,
        *,
        http_status: int | None = None,
        response_body: str | None = None,
        disable_destination: bool = False,
    ) -> Outcome:
        return cls(OutcomeKind.FAILED, http_status, error, response_body, None, disable_destination)

    @classmethod
    def deferred(cls, after: float, reason: str) -> Outcome:
        return cls(OutcomeKind.DEFERRED, None, reason, None, after)


@dataclass(frozen=True, slots=True)
class Permit:
    """A rate limiter's answer: go after ``wait`` seconds, or come back after ``wait``."""

    granted: bool
    wait: float
    """Granted: sleep this long, then send. Refused: the delivery is due again this late."""


class RateLimiter(Protocol):
    """Spaces requests to one target across every worker (``destinations.ratelimit``)."""

    def acquire(self, key: str, *, rate: float, burst: int) -> Permit:
        """A slot for one request to ``key`` at ``rate`` per second, ``burst`` at once."""
        ...

    def hold(self, key: str, seconds: float) -> None:
        """The provider said "slow down": grant nothing for ``key`` for ``seconds``."""
        ...


@dataclass(frozen=True, slots=True)
class SendContext:
    """What an adapter may use besides the event and its config."""

    http: httpx.Client
    """Shared, keep-alive HTTP client of this worker process; redirects are not followed."""
    default_timeout: float = 10.0
    excerpt_bytes: int = 4096
    rate_limiter: RateLimiter | None = None
    """Shared per-target rate limiter (Redis); ``None`` sends without limiting."""
    allowed_networks: tuple[IPNetwork, ...] | None = None
    """The SSRF guard for connections made outside ``http`` (SMTP): internal networks that
    are allowed; ``None`` turns the guard off (``http`` carries its own, in its transport)."""


class DestinationKind(Protocol):
    """One kind of destination: its config model, its settings as people give them, how it
    describes a target and how it sends."""

    name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    options: ClassVar[tuple[Option, ...]]
    """CLI flags and form fields (``options.Option``), mapped onto ``config_model``."""
    signing_secret: ClassVar[str | None]
    """The config key of a signing secret (``--generate-secret``, ``rotate-secret``), if any."""

    def config_from_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The config for the options a person gave (not yet validated by the model)."""
        ...

    def describe(self, config: Mapping[str, Any]) -> str:
        """Where a (masked) config sends, in one line for listings."""
        ...

    def send(self, event: Event, config: Any, attempt: int, ctx: SendContext) -> Outcome:
        """Deliver ``event`` once; never raise for provider or network errors."""
        ...


def excerpt(text: str, limit: int) -> str:
    """At most ``limit`` bytes of ``text`` (on a character boundary), marked when cut."""
    data = text.encode("utf-8", "replace")
    if len(data) <= limit:
        return text
    return data[:limit].decode("utf-8", "ignore") + "…[truncated]"
