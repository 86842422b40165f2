"""Slack: an incoming webhook, or a bot token calling ``chat.postMessage``.

Messages pass through a rate limiter shared by all workers (default 1 per second with a
burst of 3 per webhook or channel), so a storm of events is spread out instead of getting
the webhook throttled or disabled by Slack. A 429 from Slack holds that limiter for the
``Retry-After`` it names.

The config and its message live in ``slack_config``, what Slack's answers mean in
``slack_answers``, one rate-limited POST in ``slack_post``, the calls after the post (updates,
thread replies) in ``slack_api``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel

from eventrouter.router.destinations.base import Outcome, OutcomeKind, SendContext
from eventrouter.router.destinations.options import Option, assemble, read_template
from eventrouter.router.destinations.slack_answers import (
    classify_api,
    classify_webhook,
    message_receipt,
)
from eventrouter.router.destinations.slack_config import SlackConfig
from eventrouter.router.destinations.slack_post import api_url, bearer, post_json, take_permit
from eventrouter.router.destinations.templating import TemplateError
from eventrouter.router.errors import ConfigError
from eventrouter.router.events import Event


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
        wait = take_permit(ctx, config)
        if wait is not None:
            return Outcome.deferred(wait, f"held by the Slack rate limit ({config.rate_limit:g}/s)")
        if config.webhook_url is not None:
            url, headers, classify = config.webhook_url, {}, classify_webhook
        else:
            url, headers = api_url(config, "chat.postMessage"), bearer(config)
            message = {"channel": config.channel, **message}
            classify = classify_api
        outcome, answer = post_json(ctx, config, url, message, headers=headers, classify=classify)
        if outcome.kind is OutcomeKind.SUCCEEDED and config.bot_token is not None:
            outcome = replace(outcome, receipt=message_receipt(answer or ""))
        return outcome
