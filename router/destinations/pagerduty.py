"""PagerDuty Events API v2: trigger, acknowledge and resolve alerts.

The ``dedup_key`` ties the three together: the payload's ``dedup_key`` if it has one,
else the event id (stable across retries, so a retried trigger never opens a second
alert). Responses follow PagerDuty's table: 202 accepted (the returned ``dedup_key`` is
kept in the attempt row), 400 invalid event (permanent, with PagerDuty's ``errors``), 429
and 5xx retry.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from eventrouter.router.destinations import notice
from eventrouter.router.destinations.base import Outcome, SendContext, excerpt
from eventrouter.router.destinations.classify import (
    classify_http,
    describe_status,
    parse_retry_after,
)
from eventrouter.router.destinations.fields import Secret, SecretURL, check_http_url
from eventrouter.router.destinations.httpio import send_http
from eventrouter.router.destinations.options import Option, assemble
from eventrouter.router.destinations.slack_blocks import cut
from eventrouter.router.errors import ConfigError
from eventrouter.router.events import Event
from eventrouter.router.settings import MAX_REQUEST_TIMEOUT_SECONDS

ENDPOINTS = {
    "us": "https://events.pagerduty.com/v2/enqueue",
    "eu": "https://events.eu.pagerduty.com/v2/enqueue",
}
SEVERITIES = ("critical", "error", "warning", "info")
ACTIONS = ("trigger", "acknowledge", "resolve")
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255
MAX_BODY_BYTES = 512 * 1024
_ROUTING_KEY = re.compile(r"[A-Za-z0-9]{32}")

Severity = Literal["critical", "error", "warning", "info"]


class PagerDutyConfig(BaseModel):
    """Config of a ``pagerduty`` destination."""

    model_config = ConfigDict(extra="forbid")

    routing_key: Secret
    """The 32-character Integration Key of an Events API v2 integration."""
    severity: Severity = "error"
    """Used when the payload has no valid ``severity`` of its own."""
    region: Literal["us", "eu"] = "us"
    url: SecretURL | None = None
    """Overrides the regional endpoint (e.g. a proxy)."""
    source: str | None = None
    """``payload.source`` when the event has none; default ``eventrouter/<org>/<env>``."""
    action_field: str = Field(default="event_action", min_length=1, max_length=100)
    """Payload field naming the action: trigger (default), acknowledge or resolve."""
    timeout: float | None = Field(default=None, gt=0, le=MAX_REQUEST_TIMEOUT_SECONDS)

    @field_validator("routing_key")
    @classmethod
    def _routing_key(cls, value: str) -> str:
        if not _ROUTING_KEY.fullmatch(value):
            raise ValueError(
                "a routing key is the 32-character Integration Key of an Events API v2 "
                f"integration (got {len(value)} characters)"
            )
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value)

    @model_validator(mode="after")
    def _url_or_region(self) -> PagerDutyConfig:
        if self.url is not None and self.region != "us":
            raise ValueError("give --region or --url, not both")
        return self

    @property
    def endpoint(self) -> str:
        return self.url or ENDPOINTS[self.region]


def dedup_key(event: Event) -> str:
    """The rule's key for an on-change notification (so its ``resolve`` closes the incident
    its ``trigger`` opened), else the payload's ``dedup_key`` (hashed if over 255
    characters), else the event id (a digest's own id)."""
    ruled = (event.notice or {}).get("dedup_key")
    if isinstance(ruled, str) and ruled:
        return ruled if len(ruled) <= MAX_DEDUP_KEY else hashlib.sha256(ruled.encode()).hexdigest()
    given = event.payload.get("dedup_key")
    if given is None or given == "":
        return notice.message_id(event)
    key = given if isinstance(given, str) else json.dumps(given, sort_keys=True)
    return key if len(key) <= MAX_DEDUP_KEY else hashlib.sha256(key.encode()).hexdigest()


def event_action(event: Event, config: PagerDutyConfig) -> str:
    """``resolve`` for a rule's resolved notification, else ``trigger`` unless the payload
    names another action; ``ValueError`` if unknown."""
    if (event.notice or {}).get("state") == "resolved":
        return "resolve"
    action = event.payload.get(config.action_field, "trigger")
    if action not in ACTIONS:
        raise ValueError(
            f"payload field {config.action_field!r} is {action!r}; "
            f"PagerDuty accepts {', '.join(ACTIONS)}"
        )
    return str(action)


def summary(event: Event) -> str:
    env = f"[{event.env}] " if event.env else ""
    title = notice.headline(event)
    for key in ("summary", "message", "description", "text"):
        value = event.payload.get(key)
        if isinstance(value, str) and value.strip():
            return cut(f"{env}{title}: {value}", MAX_SUMMARY)
    return cut(f"{env}{title}", MAX_SUMMARY)


def build_body(
    event: Event, config: PagerDutyConfig, *, max_bytes: int = MAX_BODY_BYTES
) -> dict[str, Any]:
    """The Events API v2 body; ``custom_details`` is dropped first if over ``max_bytes``."""
    action = event_action(event, config)
    body: dict[str, Any] = {
        "routing_key": config.routing_key,
        "event_action": action,
        "dedup_key": dedup_key(event),
    }
    if action != "trigger":
        return body
    severity = event.payload.get("severity")
    source = event.payload.get("source")
    body["payload"] = {
        "summary": summary(event),
        "source": source
        if isinstance(source, str) and source
        else config.source or f"eventrouter/{event.org}/{event.env or '-'}",
        "severity": severity if severity in SEVERITIES else config.severity,
        "timestamp": event.published_datetime.isoformat(timespec="milliseconds").replace(
            "+00:00", "Z"
        ),
        "custom_details": event.payload
        if not event.notice
        else {**event.payload, "eventrouter": notice.webhook_fields(event)},
    }
    body["client"] = "eventrouter"
    if len(encode(body)) > max_bytes:
        body["payload"]["custom_details"] = {
            "note": f"the payload was dropped: the event was over PagerDuty's {max_bytes} "
            f"byte limit; see eventrouter show {event.id}"
        }
    return body


def encode(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def classify(status: int, headers: Any, body: str) -> Outcome:
    """PagerDuty's answer, per its response-code table."""
    if status == 202:
        return Outcome.succeeded(202, body)
    if status == 400:
        try:
            answer = json.loads(body)
            errors = answer.get("errors") or [answer.get("message") or "invalid event"]
            reason = "; ".join(str(e) for e in errors)
        except (ValueError, AttributeError):
            reason = "invalid event"
        return Outcome.failed(
            f"PagerDuty rejected the event: {reason}", http_status=400, response_body=body
        )
    if status == 429 or status >= 500:
        return Outcome.retry(
            f"PagerDuty: {describe_status(status)}",
            http_status=status,
            response_body=body,
            retry_after=parse_retry_after(headers.get("retry-after")),
        )
    return classify_http(status, headers, body)


class PagerDuty:
    """The ``pagerduty`` destination kind."""

    name: ClassVar[str] = "pagerduty"
    config_model: ClassVar[type[BaseModel]] = PagerDutyConfig
    signing_secret: ClassVar[str | None] = None
    options: ClassVar[tuple[Option, ...]] = (
        Option("routing_key", "Events API v2 Integration Key (32 characters).", secret=True),
        Option(
            "severity",
            "Severity when the payload has none [default: error].",
            type="choice",
            choices=SEVERITIES,
        ),
        Option("region", "Service region [default: us].", type="choice", choices=("us", "eu")),
        Option("url", "Endpoint overriding the region's (e.g. a proxy)."),
        Option("source", "payload.source when the event has none [default: eventrouter/ORG/ENV]."),
        Option(
            "action_field",
            "Payload field with trigger|acknowledge|resolve [default: event_action].",
        ),
    )

    def config_from_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        if "routing_key" not in given:
            raise ConfigError("a pagerduty destination needs --routing-key (the Integration Key)")
        return assemble(self.options, given)

    def describe(self, config: Mapping[str, Any]) -> str:
        where = config.get("url") or f"Events API v2 ({config.get('region', 'us')})"
        return f"{where}, routing key {config.get('routing_key', '')}"

    def send(
        self, event: Event, config: PagerDutyConfig, attempt: int, ctx: SendContext
    ) -> Outcome:
        try:
            body = build_body(event, config)
        except ValueError as exc:
            return Outcome.failed(f"not sent: {exc}")
        timeout = config.timeout or ctx.default_timeout
        result = send_http(
            ctx,
            "POST",
            config.endpoint,
            content=encode(body),
            headers={"content-type": "application/json"},
            timeout=timeout,
        )
        if isinstance(result, Outcome):
            return result
        return classify(result.status_code, result.headers, excerpt(result.text, ctx.excerpt_bytes))
