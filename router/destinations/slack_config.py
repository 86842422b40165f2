"""A ``slack`` destination's config: an incoming webhook, or a bot token and a channel; and the
message it posts (the template's, or the rich default, with buttons when interactive)."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from eventrouter.router.destinations.fields import Secret, SecretURL, check_http_url
from eventrouter.router.destinations.slack_blocks import (
    INTERACTIVE_BLOCKS,
    default_message,
    enforce_limits,
    interactive_blocks,
)
from eventrouter.router.destinations.templating import JsonTemplate, TemplateError
from eventrouter.router.events import Event
from eventrouter.router.interactive import Resolution, read_interactions
from eventrouter.router.settings import MAX_REQUEST_TIMEOUT_SECONDS

DEFAULT_API_URL = "https://slack.com/api"
_TOKEN = re.compile(r"xox[abpe]-[A-Za-z0-9-]+")
_SIGNING_SECRET = re.compile(r"[A-Za-z0-9]{16,128}")


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
