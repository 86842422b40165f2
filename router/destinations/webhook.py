"""Generic webhook: POST (or PUT) the event as JSON to a URL, optionally templated and
signed the Standard Webhooks way.

Every attempt of one event carries the same ``webhook-id`` header (the event id), so
receivers can drop the duplicates that at-least-once delivery allows.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

from eventrouter.router.destinations import notice, signing
from eventrouter.router.destinations.base import Outcome, SendContext
from eventrouter.router.destinations.classify import classify_http
from eventrouter.router.destinations.fields import Secret, SecretURL, SecretValues, check_http_url
from eventrouter.router.destinations.httpio import body_excerpt, send_http
from eventrouter.router.destinations.options import Option, assemble, parse_headers, read_template
from eventrouter.router.destinations.templating import JsonTemplate, TemplateError
from eventrouter.router.errors import ConfigError
from eventrouter.router.events import Event
from eventrouter.router.settings import MAX_REQUEST_TIMEOUT_SECONDS

__all__ = ["USER_AGENT", "PreviousSecret", "Webhook", "WebhookConfig", "check_http_url"]

USER_AGENT = "eventrouter/0.1 (+webhook)"
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
RESERVED_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "host",
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
    }
)


class PreviousSecret(BaseModel):
    """A rotated-out signing secret that keeps co-signing until ``expires_at``."""

    model_config = ConfigDict(extra="forbid")

    secret: Secret
    expires_at: datetime

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str) -> str:
        signing.secret_key(value)
        return value


class WebhookConfig(BaseModel):
    """Config of a ``webhook`` destination."""

    model_config = ConfigDict(extra="forbid")

    url: SecretURL
    """Where to send; user-info and query string are treated as secrets."""
    method: Literal["POST", "PUT"] = "POST"
    headers: SecretValues = Field(default_factory=dict)
    """Extra request headers; they never replace Content-Type or the webhook-* headers."""
    timeout: float | None = Field(default=None, gt=0, le=MAX_REQUEST_TIMEOUT_SECONDS)
    """Seconds per request; the worker's default when unset."""
    template: str | None = None
    """A JSON body with ``${...}`` placeholders (see ``templating``); the default body if unset."""
    secret: Secret | None = None
    """``whsec_…`` Standard Webhooks signing secret; requests are unsigned when unset."""
    previous_secrets: list[PreviousSecret] = Field(default_factory=list)
    """Secrets rotated out by ``destinations rotate-secret``, co-signing until they expire."""

    _compiled: JsonTemplate | None = PrivateAttr(default=None)

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

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is not None:
            signing.secret_key(value)
        return value

    @field_validator("template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is not None:
            JsonTemplate.compile(value)  # TemplateError is a ValueError: shown with its spot
        return value

    def model_post_init(self, context: Any, /) -> None:
        if self.template is not None:
            self._compiled = JsonTemplate.compile(self.template)

    @property
    def compiled_template(self) -> JsonTemplate | None:
        return self._compiled

    def active_secrets(self, now: datetime) -> list[str]:
        """The current secret first, then rotated ones still within their grace period."""
        if self.secret is None:
            return []
        return [self.secret, *(p.secret for p in self.previous_secrets if p.expires_at > now)]


def default_body(event: Event, *, with_payload: bool = True) -> dict[str, Any]:
    """The JSON body sent when no template is configured (``render_body`` may splice the
    payload's text in instead: ``with_payload=False`` leaves it out)."""
    body: dict[str, Any] = {
        "id": event.id,
        "name": event.name,
        "org": event.org,
        "env": event.env,
        "timestamp": event.published_datetime.isoformat().replace("+00:00", "Z"),
    }
    if with_payload:
        body["payload"] = event.payload
    body.update(notice.webhook_fields(event))
    return body


def render_body(event: Event, config: WebhookConfig, now: datetime | None = None) -> bytes:
    """The request body; ``TemplateError`` if a template renders something unparseable."""
    template = config.compiled_template
    if template is not None:
        return template.render(event, now).encode()
    if event.payload_json is None:
        return json.dumps(default_body(event), separators=(",", ":"), ensure_ascii=False).encode()
    # The payload's JSON text as the worker loaded it, spliced in: never decoded here.
    envelope = default_body(event, with_payload=False)
    head = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
    return f'{head[:-1]},"payload":{event.payload_json}}}'.encode()


def request_headers(
    event: Event, config: WebhookConfig, now: datetime | None = None
) -> dict[str, str]:
    headers = dict(config.headers)
    if not any(name.lower() == "user-agent" for name in headers):
        headers["user-agent"] = USER_AGENT  # a configured User-Agent replaces ours
    headers["content-type"] = "application/json"
    headers["webhook-id"] = notice.message_id(event)
    headers["webhook-timestamp"] = str(int((now or datetime.now(UTC)).timestamp()))
    return headers


def signed_headers(
    event: Event, config: WebhookConfig, body: bytes, now: datetime | None = None
) -> dict[str, str]:
    """``request_headers`` plus ``webhook-signature`` when the destination has a secret."""
    now = now or datetime.now(UTC)
    headers = request_headers(event, config, now)
    secrets = config.active_secrets(now)
    if secrets:
        timestamp = int(headers["webhook-timestamp"])
        headers["webhook-signature"] = signing.signature_header(
            secrets, notice.message_id(event), timestamp, body
        )
    return headers


class Webhook:
    """The ``webhook`` destination kind."""

    name: ClassVar[str] = "webhook"
    config_model: ClassVar[type[BaseModel]] = WebhookConfig
    signing_secret: ClassVar[str | None] = "secret"
    options: ClassVar[tuple[Option, ...]] = (
        Option("url", "URL the event is sent to (http/https)."),
        Option(
            "method",
            "HTTP method [default: POST].",
            type="choice",
            choices=("POST", "PUT"),
            parse=str.upper,
        ),
        Option(
            "headers",
            "Extra request header; repeatable.",
            flag="header",
            multiple=True,
            metavar="'NAME: VALUE'",
            parse=parse_headers,
        ),
        Option(
            "template", "JSON body with ${...} placeholders, or @file.json.", parse=read_template
        ),
        Option("secret", "Standard Webhooks signing secret (whsec_…).", secret=True),
    )

    def config_from_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        if "url" not in given:
            raise ConfigError("a webhook destination needs --url")
        return assemble(self.options, given)

    def describe(self, config: Mapping[str, Any]) -> str:
        signed = " (signed)" if config.get("secret") else ""
        return f"{config.get('method', 'POST')} {config.get('url', '')}{signed}"

    def send(self, event: Event, config: WebhookConfig, attempt: int, ctx: SendContext) -> Outcome:
        now = datetime.now(UTC)
        try:
            body = render_body(event, config, now)
        except TemplateError as exc:
            return Outcome.failed(f"not sent: {exc}")
        timeout = config.timeout or ctx.default_timeout
        result = send_http(
            ctx,
            config.method,
            config.url,
            content=body,
            headers=signed_headers(event, config, body, now),
            timeout=timeout,
        )
        if isinstance(result, Outcome):
            return result
        return classify_http(result.status_code, result.headers, body_excerpt(result, ctx))
