"""Email: SMTP, SendGrid, or SendGrid with SMTP as the fallback.

With both configured, SendGrid is tried first; only when it fails with a retryable error
(429, 5xx, timeout) is the message sent over SMTP in the same attempt. A permanent
SendGrid error (bad key, invalid request) is reported as is: falling back would hide it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from eventrouter.router.destinations.base import Outcome, OutcomeKind, SendContext
from eventrouter.router.destinations.email_message import (
    check_address,
    mime_message,
    sendgrid_body,
    subject,
)
from eventrouter.router.destinations.options import Option, assemble
from eventrouter.router.destinations.sendgrid import SendGridConfig, send_sendgrid
from eventrouter.router.destinations.smtp import SmtpConfig, send_smtp
from eventrouter.router.destinations.templating import TextTemplate
from eventrouter.router.errors import ConfigError
from eventrouter.router.events import Event


class EmailConfig(BaseModel):
    """Config of an ``email`` destination."""

    model_config = ConfigDict(extra="forbid")

    from_address: str
    """Sender, ``alerts@example.com`` or ``Alerts <alerts@example.com>``."""
    to: list[str] = Field(min_length=1, max_length=100)
    subject: str | None = None
    """One-line ``${...}`` template; default ``[env] event name``."""
    smtp: SmtpConfig | None = None
    sendgrid: SendGridConfig | None = None
    timeout: float | None = Field(default=None, gt=0, le=300)

    _subject: TextTemplate | None = PrivateAttr(default=None)

    @field_validator("from_address")
    @classmethod
    def _from(cls, value: str) -> str:
        return check_address(value, allow_name=True)

    @field_validator("to")
    @classmethod
    def _to(cls, value: list[str]) -> list[str]:
        return [check_address(address) for address in value]

    @field_validator("subject")
    @classmethod
    def _subject_template(cls, value: str | None) -> str | None:
        if value is not None:
            TextTemplate.compile(value)
        return value

    @model_validator(mode="after")
    def _some_way_out(self) -> EmailConfig:
        if self.smtp is None and self.sendgrid is None:
            raise ValueError("give --smtp-host (SMTP), --sendgrid-api-key (SendGrid), or both")
        return self

    def model_post_init(self, context: Any, /) -> None:
        if self.subject is not None:
            self._subject = TextTemplate.compile(self.subject)

    @property
    def subject_template(self) -> TextTemplate | None:
        return self._subject


def _combined(sendgrid: Outcome, smtp: Outcome) -> Outcome:
    """The attempt's outcome when SendGrid failed (retryable) and SMTP was tried."""
    note = f"SendGrid failed ({sendgrid.error}); "
    if smtp.kind is OutcomeKind.SUCCEEDED:
        return Outcome.succeeded(None, f"{note}sent via SMTP: {smtp.response_body}")
    return Outcome.retry(
        f"{note}SMTP fallback failed too ({smtp.error})",
        http_status=sendgrid.http_status,
        response_body=sendgrid.response_body,
        retry_after=sendgrid.retry_after,
    )


class Email:
    """The ``email`` destination kind."""

    name: ClassVar[str] = "email"
    config_model: ClassVar[type[BaseModel]] = EmailConfig
    signing_secret: ClassVar[str | None] = None
    options: ClassVar[tuple[Option, ...]] = (
        Option("from_address", "Sender address.", flag="from"),
        Option("to", "Recipient address; repeatable.", multiple=True),
        Option("subject", "Subject template [default: [env] name]."),
        Option("smtp_host", "SMTP server.", path=("smtp", "host")),
        Option(
            "smtp_port",
            "SMTP port [default: 465 with ssl, else 587].",
            type="port",
            path=("smtp", "port"),
            requires="smtp_host",
        ),
        Option(
            "smtp_tls",
            "ssl (default on 465), starttls (default elsewhere), none (local).",
            type="choice",
            choices=("ssl", "starttls", "none"),
            path=("smtp", "tls"),
            requires="smtp_host",
        ),
        Option("username", "SMTP user.", path=("smtp", "username"), requires="smtp_host"),
        Option(
            "password",
            "SMTP password.",
            path=("smtp", "password"),
            secret=True,
            requires="smtp_host",
        ),
        Option(
            "smtp_ca_file",
            "PEM CA bundle to trust for SMTP TLS.",
            path=("smtp", "ca_file"),
            requires="smtp_host",
        ),
        Option(
            "sendgrid_api_key",
            "SendGrid API key (SG.…).",
            path=("sendgrid", "api_key"),
            secret=True,
        ),
        Option(
            "api_url",
            "SendGrid API base URL [default: https://api.sendgrid.com].",
            path=("sendgrid", "api_url"),
            requires="sendgrid_api_key",
        ),
    )

    def config_from_options(self, given: Mapping[str, Any]) -> dict[str, Any]:
        if "from_address" not in given or not given.get("to"):
            raise ConfigError("an email destination needs --from and at least one --to")
        return assemble(self.options, given)

    def describe(self, config: Mapping[str, Any]) -> str:
        ways = []
        if config.get("sendgrid"):
            ways.append("sendgrid")
        smtp = config.get("smtp") or {}
        if smtp:
            ways.append(f"smtp {smtp.get('host')}:{smtp.get('port')}/{smtp.get('tls')}")
        return f"to {', '.join(config.get('to', []))} via {' + '.join(ways)}"

    def send(self, event: Event, config: EmailConfig, attempt: int, ctx: SendContext) -> Outcome:
        now = datetime.now(UTC)
        timeout = config.timeout or ctx.default_timeout
        subject_line = subject(event, config.subject_template, now)
        sendgrid_outcome: Outcome | None = None
        if config.sendgrid is not None:
            body = sendgrid_body(
                event, sender=config.from_address, to=config.to, subject_line=subject_line
            )
            sendgrid_outcome = send_sendgrid(ctx, config.sendgrid, body, timeout)
            if config.smtp is None or sendgrid_outcome.kind is not OutcomeKind.RETRY:
                return sendgrid_outcome
        assert config.smtp is not None
        msg = mime_message(
            event, sender=config.from_address, to=config.to, subject_line=subject_line, now=now
        )
        smtp_outcome = send_smtp(config.smtp, msg, config.to, timeout, ctx.allowed_networks)
        if sendgrid_outcome is None:
            return smtp_outcome
        return _combined(sendgrid_outcome, smtp_outcome)
