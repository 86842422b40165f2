"""Calls after the post: the Web API with the destination's bot token (``chat.update``, thread
replies) and a click's ``response_url``, for approvals and acknowledgements."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventrouter.router.destinations.base import Outcome, SendContext, excerpt
from eventrouter.router.destinations.classify import classify_http
from eventrouter.router.destinations.httpio import send_http
from eventrouter.router.destinations.slack_answers import classify_api
from eventrouter.router.destinations.slack_blocks import encode
from eventrouter.router.destinations.slack_config import SlackConfig
from eventrouter.router.destinations.slack_post import api_url, bearer, post_json, take_permit
from eventrouter.router.destinations.templating import TemplateError
from eventrouter.router.events import Event
from eventrouter.router.interactive import Resolution


def call_api(ctx: SendContext, config: SlackConfig, method: str, body: dict[str, Any]) -> Outcome:
    """One Web API call with the destination's bot token (``chat.update``, a thread reply),
    classified like a post; it shares the destination's rate limit."""
    wait = take_permit(ctx, config)
    if wait is not None:
        return Outcome.retry("held by the Slack rate limit", retry_after=wait)
    outcome, _ = post_json(
        ctx, config, api_url(config, method), body, headers=bearer(config), classify=classify_api
    )
    return outcome


def update_message(
    ctx: SendContext,
    config: SlackConfig,
    event: Event,
    receipt: str,
    resolution: Resolution,
    now: datetime,
) -> Outcome:
    """``chat.update`` the message ``receipt`` names: the buttons decided on give way to
    the decision."""
    channel, ts = receipt.split(" ", 1)
    try:
        message = config.message(event, now, resolution)
    except TemplateError as exc:
        return Outcome.failed(f"not updated: {exc}")
    return call_api(ctx, config, "chat.update", {"channel": channel, "ts": ts, **message})


def reply_in_thread(ctx: SendContext, config: SlackConfig, receipt: str, text: str) -> Outcome:
    """Post ``text`` (mrkdwn) in the thread of the message ``receipt`` names."""
    channel, ts = receipt.split(" ", 1)
    return call_api(
        ctx, config, "chat.postMessage", {"channel": channel, "thread_ts": ts, "text": text}
    )


def respond(ctx: SendContext, response_url: str, text: str) -> Outcome:
    """An ephemeral note to the person who clicked, through the click's ``response_url``
    (only they see it; the message itself stays as it is)."""
    body = {"response_type": "ephemeral", "replace_original": False, "text": text}
    result = send_http(
        ctx,
        "POST",
        response_url,
        content=encode(body),
        headers={"content-type": "application/json; charset=utf-8"},
        timeout=ctx.default_timeout,
    )
    if isinstance(result, Outcome):
        return result
    return classify_http(
        result.status_code, result.headers, excerpt(result.text, ctx.excerpt_bytes)
    )
