"""Sending one message through SendGrid's v3 Mail Send API (``POST /v3/mail/send``).

202 Accepted is delivered (``X-Message-Id`` is kept in the attempt row); 400, 401, 403 and
413 are permanent, with SendGrid's ``errors[].message`` texts; 429 and 5xx retry, waiting
for ``Retry-After`` or the ``X-RateLimit-Reset`` time when SendGrid gives one.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

from eventrouter.router.destinations.base import Outcome, SendContext, excerpt
from eventrouter.router.destinations.classify import (
    bounded_wait,
    classify_http,
    describe_status,
    parse_retry_after,
)
from eventrouter.router.destinations.fields import Secret, SecretURL, check_http_url
from eventrouter.router.destinations.httpio import send_http

DEFAULT_API_URL = "https://api.sendgrid.com"
PERMANENT = frozenset({400, 401, 403, 413})


class SendGridConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: Secret
    """An API key with the Mail Send permission (``SG.…``)."""
    api_url: SecretURL = DEFAULT_API_URL
    """Base URL; ``/v3/mail/send`` is appended."""

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return check_http_url(value)

    @property
    def endpoint(self) -> str:
        return self.api_url.rstrip("/") + "/v3/mail/send"


def _reasons(body: str) -> str:
    try:
        errors = json.loads(body).get("errors") or []
        texts = [
            str(e.get("message")) + (f" (field {e['field']})" if e.get("field") else "")
            for e in errors
            if isinstance(e, dict) and e.get("message")
        ]
    except (ValueError, AttributeError):
        texts = []
    return "; ".join(texts)


def _wait(headers: Any) -> float | None:
    after = parse_retry_after(headers.get("retry-after"))
    if after is not None:
        return after
    reset = headers.get("x-ratelimit-reset")
    try:
        return bounded_wait(float(reset) - time.time()) if reset else None
    except ValueError:
        return None


def classify(status: int, headers: Any, body: str) -> Outcome:
    if status == 202:
        message_id = headers.get("x-message-id")
        return Outcome.succeeded(202, f"X-Message-Id: {message_id}" if message_id else body)
    reasons = _reasons(body)
    described = describe_status(status) + (f": {reasons}" if reasons else "")
    if status in PERMANENT:
        return Outcome.failed(
            f"SendGrid rejected the message ({described})", http_status=status, response_body=body
        )
    if status == 429 or status >= 500:
        return Outcome.retry(
            f"SendGrid: {described}",
            http_status=status,
            response_body=body,
            retry_after=_wait(headers),
        )
    return classify_http(status, headers, body)


def send_sendgrid(
    ctx: SendContext, config: SendGridConfig, body: dict[str, Any], timeout: float
) -> Outcome:
    result = send_http(
        ctx,
        "POST",
        config.endpoint,
        content=json.dumps(body, ensure_ascii=False).encode(),
        headers={"authorization": f"Bearer {config.api_key}", "content-type": "application/json"},
        timeout=timeout,
    )
    if isinstance(result, Outcome):
        return result
    return classify(result.status_code, result.headers, excerpt(result.text, ctx.excerpt_bytes))
