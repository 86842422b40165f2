"""The one way adapters make an HTTP request: network failures become ``Outcome``s."""

from __future__ import annotations

import httpx

from eventrouter.router.destinations.base import Outcome, SendContext, excerpt
from eventrouter.router.destinations.reply import Answer
from eventrouter.router.destinations.transport import WebhookClient
from eventrouter.router.netguard import blocked_reason


def send_http(
    ctx: SendContext,
    method: str,
    url: str,
    *,
    content: bytes,
    headers: dict[str, str],
    timeout: float,
) -> Answer | Outcome:
    """One request; a timeout, connection failure or broken answer comes back as a retry
    ``Outcome`` (``timeout`` bounds the whole request: connect, TLS, write and read)."""
    http = ctx.http
    try:
        if isinstance(http, WebhookClient):  # the worker's client: straight to its transport
            return http.send_bytes(method, url, content=content, headers=headers, timeout=timeout)
        return http.request(method, url, content=content, headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        return Outcome.retry(f"timed out after {timeout:g}s", timed_out=True)
    except httpx.RemoteProtocolError as exc:
        return Outcome.retry(f"the receiver broke HTTP: {exc}")
    except httpx.HTTPError as exc:
        blocked = blocked_reason(exc)
        if blocked is not None:  # the SSRF guard: retrying cannot help
            return Outcome.failed(f"refused to connect: {blocked}")
        return Outcome.retry(f"{type(exc).__name__}: {exc or 'connection failed'}")


def body_excerpt(response: Answer, ctx: SendContext) -> str:
    """The start of the response body, as kept in ``delivery_attempts.response_body``."""
    return excerpt(response.text, ctx.excerpt_bytes)
