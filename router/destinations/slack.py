"""Slack: an incoming webhook, or a bot token calling ``chat.postMessage``.

Success is what Slack documents, nothing less: an incoming webhook answers HTTP 200 with
the body ``ok``; the Web API answers JSON with ``"ok": true`` (errors come as HTTP 200
with ``"ok": false`` and a code). Every failure is recorded with Slack's own code.

Messages pass through a rate limiter shared by all workers (default 1 per second with a
burst of 3 per webhook or channel), so a storm of events is spread out instead of getting
the webhook throttled or disabled by Slack. A 429 from Slack holds that limiter for the
``Retry-After`` it names.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from eventrouter.router.destinations.base import Outcome, OutcomeKind, SendContext, excerpt
from eventrouter.router.destinations.classify import (
    classify_http,
    describe_status,
    parse_retry_after,
)
from eventrouter.router.destinations.fields import Secret, SecretURL, check_http_url
from eventrouter.router.destinations.httpio import send_http
from eventrouter.router.destinations.options import Option, assemble, read_template
from eventrouter.router.destinations.slack_blocks import (
    INTERACTIVE_BLOCKS,
    default_message,
    encode,
    enforce_limits,
    interactive_blocks,
)
from eventrouter.router.destinations.templating import JsonTemplate, TemplateError
from eventrouter.router.errors import ConfigError
from eventrouter.router.events import Event
from eventrouter.router.interactive import Resolution, read_interactions
from eventrouter.router.settings import MAX_REQUEST_TIMEOUT_SECONDS

DEFAULT_API_URL = "https://slack.com/api"
_TOKEN = re.compile(r"xox[abpe]-[A-Za-z0-9-]+")
_CODE = re.compile(r"[a-z][a-z0-9_]*")
_SIGNING_SECRET = re.compile(r"[A-Za-z0-9]{16,128}")

RETRYABLE_API_ERRORS = frozenset(
    {
        "ratelimited",
        "rate_limited",
        "fatal_error",
        "internal_error",
        "service_unavailable",
        "request_timeout",
        "team_added_to_org",
    }
)
"""``ok: false`` codes that mean "try again later"; every other code is permanent."""

HINTS = {
    "channel_not_found": "check --channel (use the channel ID, e.g. C0123456789) and that "
    "the app can see it",
    "not_in_channel": "invite the app to the channel (/invite @your-app)",
    "is_archived": "the channel is archived; unarchive it or pick another --channel",
    "channel_is_archived": "the channel is archived; unarchive it or use another webhook",
    "invalid_auth": "the bot token is not valid; set a new --bot-token",
    "not_authed": "no valid bot token was accepted; set a new --bot-token",
    "token_revoked": "the bot token was revoked; reinstall the app and set the new token",
    "account_inactive": "the token belongs to a deleted user or workspace",
    "missing_scope": "the token lacks a scope; add chat:write and reinstall the app",
    "action_prohibited": "the workspace restricts posting through this webhook",
    "no_service": "the webhook was disabled or removed; create a new one",
    "invalid_token": "the webhook was disabled or removed; create a new one",
    "invalid_payload": "Slack could not read the message; check the --template",
    "invalid_blocks": "Slack refused the blocks; check the --template",
    "no_text": "the message had no text; check the --template",
}


class SlackConfig(BaseModel):
    """Config of a ``slack`` destination: ``webhook_url``, or ``bot_token`` + ``channel``."""

    model_config = ConfigDict(extra="forbid")

    webhook_url: Secret | None = None
    """Incoming webhook URL (https://hooks.slack.com/services/…); a secret."""
    bot_token: Secret | None = None
    """Bot token (``xoxb-…``) with the ``chat:write`` scope."""
    channel: str | None = None
    """Channel ID (``C…``) or name for the bot token."""
    signing_secret: Secret | None = None
    """The Slack app's signing secret: makes the destination interactive (buttons whose
    clicks ``POST /v1/slack/interactions`` verifies with it)."""
    api_url: SecretURL = DEFAULT_API_URL
    """Slack Web API base URL."""
    template: str | None = None
    """JSON with ``${...}`` placeholders giving ``text`` and/or ``blocks``; rich if unset."""
    timeout: float | None = Field(default=None, gt=0, le=MAX_REQUEST_TIMEOUT_SECONDS)
    rate_limit: float = Field(default=1.0, gt=0, le=100)
    """Messages per second to this webhook or channel, across all workers."""
    burst: int = Field(default=3, ge=1, le=100)
    """Messages that may go at once before ``rate_limit`` applies."""

    _compiled: JsonTemplate | None = PrivateAttr(default=None)

    @field_validator("webhook_url", "api_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_http_url(value)

    @field_validator("bot_token")
    @classmethod
    def _token(cls, value: str | None) -> str | None:
        if value is not None and not _TOKEN.fullmatch(value):
            raise ValueError(
                "a Slack bot token looks like xoxb-…; copy it from OAuth & Permissions"
            )
        return value

    @field_validator("signing_secret")
    @classmethod
    def _signing_secret(cls, value: str | None) -> str | None:
        if value is not None and not _SIGNING_SECRET.fullmatch(value):
            raise ValueError(
                "a Slack signing secret is letters and digits (32 of them); copy it from "
                "your app's Basic Information → App Credentials → Signing Secret"
            )
        return value

    @field_validator("channel")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(c.isspace() for c in value)):
            raise ValueError(f"channel {value!r} is invalid; use its ID, e.g. C0123456789")
        return value

    @field_validator("template")
    @classmethod
    def _template(cls, value: str | None) -> str | None:
        if value is None:
            return value
        sample = JsonTemplate.compile(value).render_value(
            Event(id="0", name="sample", org="sample", env=None, payload={})
        )
        if not isinstance(sample, dict) or not ({"text", "blocks"} & sample.keys()):
            raise ValueError('a Slack template is a JSON object with "text" and/or "blocks"')
        return value

    @model_validator(mode="after")
    def _one_way_in(self) -> SlackConfig:
        if (self.webhook_url is None) == (self.bot_token is None):
            raise ValueError("give either --webhook-url or --bot-token (with --channel)")
        if self.bot_token is not None and self.channel is None:
            raise ValueError("a bot token needs --channel (the channel ID, e.g. C0123456789)")
        if self.webhook_url is not None and self.channel is not None:
            raise ValueError("--channel goes with --bot-token; a webhook posts to its own channel")
        if self.webhook_url is not None and self.signing_secret is not None:
            raise ValueError(
                "--signing-secret needs --bot-token: buttons need messages the app can update"
            )
        return self

    def model_post_init(self, context: Any, /) -> None:
        if self.template is not None:
            self._compiled = JsonTemplate.compile(self.template)

    @property
    def rate_key(self) -> str:
        """The limiter key: one per webhook, or per (workspace token, channel)."""
        target = self.webhook_url or f"{self.api_url}|{self.bot_token}|{self.channel}"
        return "slack:" + hashlib.sha256(target.encode()).hexdigest()[:32]

    @property
    def interactive(self) -> bool:
        return self.signing_secret is not None

    def message(
        self, event: Event, now: datetime, resolution: Resolution | None = None
    ) -> dict[str, Any]:
        """The message to post, limits applied; ``TemplateError`` if a template misfires.

        An interactive destination adds the event's buttons (approval, acknowledge, links)
        and, given a ``resolution``, shows what was decided in their place."""
        if self._compiled is None:
            base = default_message(event, now)
        else:
            base = self._compiled.render_value(event, now)
            if not isinstance(base, dict):
                raise TemplateError("the filled template is not a JSON object")
            if "blocks" in base and not isinstance(base["blocks"], list):
                raise TemplateError('the filled template\'s "blocks" is not a list')
        interactions = read_interactions(event.payload, strict=False)
        if not (self.interactive and interactions.any):
            return enforce_limits(base)
        message = enforce_limits(base, reserve=INTERACTIVE_BLOCKS)
        blocks = message.get("blocks") or [
            {"type": "section", "text": {"type": "mrkdwn", "text": message.get("text") or "-"}}
        ]
        extra = interactive_blocks(event, interactions, resolution or Resolution())
        return {**message, "blocks": [*blocks, *extra]}


def _code(body: str) -> str | None:
    word = body.strip()
    return word if _CODE.fullmatch(word) else None


def _explain(code: str) -> str:
    hint = HINTS.get(code)
    return f"{code} ({hint})" if hint else code


def classify_webhook(status: int, headers: Any, body: str) -> Outcome:
    """An incoming webhook's answer: 200 + ``ok`` only is success."""
    code = _code(body)
    if status == 200:
        if body.strip() == "ok":
            return Outcome.succeeded(200, body)
        return Outcome.failed(
            "Slack answered HTTP 200 without 'ok' (is this a Slack webhook URL?)",
            http_status=200,
            response_body=body,
        )
    if status == 429 or status >= 500:
        return Outcome.retry(
            f"Slack: {code or 'error'} ({describe_status(status)})",
            http_status=status,
            response_body=body,
            retry_after=parse_retry_after(headers.get("retry-after")),
        )
    if 400 <= status < 500:
        return Outcome.failed(
            f"Slack rejected the message: {_explain(code) if code else describe_status(status)}"
            f" ({describe_status(status)})",
            http_status=status,
            response_body=body,
            disable_destination=status == 410,
        )
    return classify_http(status, headers, body)


def classify_api(status: int, headers: Any, body: str) -> Outcome:
    """A Web API answer: JSON ``ok: true`` only is success; ``ok: false`` codes classified."""
    if status == 429 or status >= 500:
        try:
            code = json.loads(body).get("error")
        except (ValueError, AttributeError):
            code = None
        return Outcome.retry(
            f"Slack API: {code or 'error'} ({describe_status(status)})",
            http_status=status,
            response_body=body,
            retry_after=parse_retry_after(headers.get("retry-after")),
        )
    if status != 200:
        return classify_http(status, headers, body)
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or "ok" not in answer:
        return Outcome.failed(
            "Slack API answered HTTP 200 without a JSON 'ok' field (check --api-url)",
            http_status=200,
            response_body=body,
        )
    if answer["ok"] is True:
        return Outcome.succeeded(200, body)
    code = str(answer.get("error") or "unknown_error")
    if code in RETRYABLE_API_ERRORS:
        return Outcome.retry(
            f"Slack API error: {code}",
            http_status=200,
            response_body=body,
            retry_after=parse_retry_after(headers.get("retry-after")),
        )
    detail = _explain(code)
    if code == "missing_scope" and answer.get("needed"):
        detail += f"; needed: {answer['needed']}"
    return Outcome.failed(f"Slack API error: {detail}", http_status=200, response_body=body)


class Slack:
    """The ``slack`` destination kind."""

    name: ClassVar[str] = "slack"
    config_model: ClassVar[type[BaseModel]] = SlackConfig
    signing_secret: ClassVar[str | None] = None
    options: ClassVar[tuple[Option, ...]] = (
        Option(
            "webhook_url", "Incoming webhook URL (https://hooks.slack.com/services/…).", secret=True
        ),
        Option("bot_token", "Bot token (xoxb-…) with chat:write; needs --channel.", secret=True),
        Option("channel", "Channel ID (C0123456789) the bot token posts to."),
        Option(
            "signing_secret",
            "The Slack app's signing secret: buttons (approvals, acknowledge, links) and "
            "slash commands; needs --bot-token.",
            secret=True,
        ),
        Option("api_url", "Slack Web API base URL [default: https://slack.com/api]."),
        Option(
            "template",
            "JSON with ${...} placeholders giving text and/or blocks, or @file.",
            parse=read_template,
        ),
        Option(
            "rate_limit",
            "Messages per second to this webhook or channel [default: 1].",
            type="number",
        ),
        Option("burst", "Messages that may go at once [default: 3].", type="integer"),
    )

    def config_from_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        if "webhook_url" not in given and "bot_token" not in given:
            raise ConfigError(
                "a slack destination needs --webhook-url, or --bot-token and --channel"
            )
        return assemble(self.options, given)

    def describe(self, config: Mapping[str, Any]) -> str:
        if config.get("channel"):
            buttons = ", interactive" if config.get("signing_secret") else ""
            return f"channel {config['channel']} (bot token {config.get('bot_token', '')}{buttons})"
        return f"incoming webhook {config.get('webhook_url', '')}"

    def send(self, event: Event, config: SlackConfig, attempt: int, ctx: SendContext) -> Outcome:
        now = datetime.now(UTC)
        try:
            message = config.message(event, now)
        except TemplateError as exc:
            return Outcome.failed(f"not sent: {exc}")
        limiter = ctx.rate_limiter
        if limiter is not None:
            permit = limiter.acquire(config.rate_key, rate=config.rate_limit, burst=config.burst)
            if not permit.granted:
                return Outcome.deferred(
                    permit.wait, f"held by the Slack rate limit ({config.rate_limit:g}/s)"
                )
            if permit.wait > 0:
                time.sleep(permit.wait)
        timeout = config.timeout or ctx.default_timeout
        if config.webhook_url is not None:
            url, headers, classify = config.webhook_url, {}, classify_webhook
        else:
            url = config.api_url.rstrip("/") + "/chat.postMessage"
            headers = {"authorization": f"Bearer {config.bot_token}"}
            message = {"channel": config.channel, **message}
            classify = classify_api
        headers["content-type"] = "application/json; charset=utf-8"
        body = encode(message)
        result = send_http(ctx, "POST", url, content=body, headers=headers, timeout=timeout)
        if isinstance(result, Outcome):
            return result
        outcome = classify(
            result.status_code, result.headers, excerpt(result.text, ctx.excerpt_bytes)
        )
        if limiter is not None and result.status_code == 429:
            limiter.hold(config.rate_key, outcome.retry_after or 1.0)
        if outcome.kind is OutcomeKind.SUCCEEDED and config.bot_token is not None:
            outcome = replace(outcome, receipt=message_receipt(result.text))
        return outcome


def message_receipt(answer: str) -> str | None:
    """``"<channel> <ts>"`` of the message ``chat.postMessage`` made (from the whole answer,
    not the stored excerpt, which may be cut before them)."""
    try:
        body = json.loads(answer)
    except ValueError:
        return None
    channel, ts = (body.get("channel"), body.get("ts")) if isinstance(body, dict) else (0, 0)
    if isinstance(channel, str) and isinstance(ts, str) and channel and ts:
        return f"{channel} {ts}"
    return None


def call_api(ctx: SendContext, config: SlackConfig, method: str, body: dict[str, Any]) -> Outcome:
    """One Web API call with the destination's bot token (``chat.update``, a thread reply),
    classified like a post; it shares the destination's rate limit."""
    limiter = ctx.rate_limiter
    if limiter is not None:
        permit = limiter.acquire(config.rate_key, rate=config.rate_limit, burst=config.burst)
        if not permit.granted:
            return Outcome.retry("held by the Slack rate limit", retry_after=permit.wait)
        if permit.wait > 0:
            time.sleep(permit.wait)
    result = send_http(
        ctx,
        "POST",
        config.api_url.rstrip("/") + "/" + method,
        content=encode(body),
        headers={
            "authorization": f"Bearer {config.bot_token}",
            "content-type": "application/json; charset=utf-8",
        },
        timeout=config.timeout or ctx.default_timeout,
    )
    if isinstance(result, Outcome):
        return result
    outcome = classify_api(
        result.status_code, result.headers, excerpt(result.text, ctx.excerpt_bytes)
    )
    if limiter is not None and result.status_code == 429:
        limiter.hold(config.rate_key, outcome.retry_after or 1.0)
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
