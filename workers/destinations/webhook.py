"""Generic webhook: POST (or PUT) the event as JSON to a URL.

Every attempt of one event carries the same ``webhook-id`` header (the event id), so
receivers can drop the duplicates that at-least-once delivery allows.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, ConfigDict, Field, field_validator

from router.events import Event
from workers.destinations.base import Outcome, SendContext, excerpt
from workers.retry import classify_http

USER_AGENT = "eventrouter/0.1 (+webhook)"
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
RESERVED_HEADERS = frozenset({"content-type", "content-length", "host", "webhook-id"})


def check_http_url(url: str) -> str:
    """Accept only absolute http(s) URLs with a host; say what is wrong otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL; use e.g. https://example.com/hook")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError(f"{url!r} has an invalid port") from None
    return url


class WebhookConfig(BaseModel):
    """Config of a ``webhook`` destination."""

    model_config = ConfigDict(extra="forbid")

    url: str
    method: Literal["POST", "PUT"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra request headers; they never replace Content-Type or webhook-id."""
    timeout: float | None = Field(default=None, gt=0, le=300)
    """Seconds per request; the worker's default when unset."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name, header_value in value.items():
            if not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"header name {name!r} is invalid")
            if name.lower() in RESERVED_HEADERS:
                raise ValueError(f"header {name!r} is set by eventrouter and cannot be overridden")
            if "\r" in header_value or "\n" in header_value:
                raise ValueError(f"header {name!r} contains a line break")
        return value


def default_body(event: Event) -> dict[str, Any]:
    """The JSON body sent when no template is configured."""
    return {
        "id": event.id,
        "name": event.name,
        "org": event.org,
        "env": event.env,
        "timestamp": event.published_datetime.isoformat().replace("+00:00", "Z"),
        "payload": event.payload,
    }


def request_headers(event: Event, config: WebhookConfig) -> dict[str, str]:
    headers = dict(config.headers)
    if not any(name.lower() == "user-agent" for name in headers):
        headers["user-agent"] = USER_AGENT  # a configured User-Agent replaces ours
    headers["content-type"] = "application/json"
    headers["webhook-id"] = event.id
    headers["webhook-timestamp"] = str(int(datetime.now(UTC).timestamp()))
    return headers


def send_http(
    ctx: SendContext,
    method: str,
    url: str,
    *,
    content: bytes,
    headers: dict[str, str],
    timeout: float,
) -> httpx.Response | Outcome:
    """One request; network failures come back as a retry ``Outcome`` instead of raising."""
    try:
        return ctx.http.request(method, url, content=content, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        return Outcome.retry(f"timed out after {timeout:g}s")
    except httpx.HTTPError as exc:
        return Outcome.retry(f"{type(exc).__name__}: {exc or 'connection failed'}")


class Webhook:
    """The ``webhook`` destination kind."""

    name: ClassVar[str] = "webhook"
    config_model: ClassVar[type[BaseModel]] = WebhookConfig

    def send(self, event: Event, config: WebhookConfig, attempt: int, ctx: SendContext) -> Outcome:
        body = json.dumps(default_body(event), separators=(",", ":"), ensure_ascii=False).encode()
        timeout = config.timeout or ctx.default_timeout
        result = send_http(
            ctx,
            config.method,
            config.url,
            content=body,
            headers=request_headers(event, config),
            timeout=timeout,
        )
        if isinstance(result, Outcome):
            return result
        return classify_http(
            result.status_code, result.headers, excerpt(result.text, ctx.excerpt_bytes)
        )
