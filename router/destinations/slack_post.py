"""One POST to Slack under the destination's rate limit, shared by the message itself and the
calls after it (updates, thread replies): every request to one webhook or channel takes a
permit from the same limiter, and a 429 holds that limiter for everyone."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from eventrouter.router.destinations.base import Outcome, SendContext, excerpt
from eventrouter.router.destinations.httpio import send_http
from eventrouter.router.destinations.slack_blocks import encode
from eventrouter.router.destinations.slack_config import SlackConfig

Classify = Callable[[int, Any, str], Outcome]


def take_permit(ctx: SendContext, config: SlackConfig) -> float | None:
    """Take a permit from the destination's rate limit, sleeping the short wait it names.
    ``None``: go ahead; else the seconds until one is free (the caller defers or retries)."""
    limiter = ctx.rate_limiter
    if limiter is None:
        return None
    permit = limiter.acquire(config.rate_key, rate=config.rate_limit, burst=config.burst)
    if not permit.granted:
        return permit.wait
    if permit.wait > 0:
        time.sleep(permit.wait)
    return None


def api_url(config: SlackConfig, method: str) -> str:
    return config.api_url.rstrip("/") + "/" + method


def bearer(config: SlackConfig) -> dict[str, str]:
    return {"authorization": f"Bearer {config.bot_token}"}


def post_json(
    ctx: SendContext,
    config: SlackConfig,
    url: str,
    body: dict[str, Any],
    *,
    headers: dict[str, str],
    classify: Classify,
) -> tuple[Outcome, str | None]:
    """POST ``body`` as JSON and classify the answer; a 429 holds the destination's limiter
    for the ``Retry-After`` Slack named. Returns the outcome and Slack's whole answer (``None``
    when no answer came), which may hold more than the stored excerpt."""
    result = send_http(
        ctx,
        "POST",
        url,
        content=encode(body),
        headers={**headers, "content-type": "application/json; charset=utf-8"},
        timeout=config.timeout or ctx.default_timeout,
    )
    if isinstance(result, Outcome):
        return result, None
    outcome = classify(result.status_code, result.headers, excerpt(result.text, ctx.excerpt_bytes))
    if ctx.rate_limiter is not None and result.status_code == 429:
        ctx.rate_limiter.hold(config.rate_key, outcome.retry_after or 1.0)
    return outcome, result.text
