"""Email: config rules, the message (subject, plain + HTML), SendGrid bodies and answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any

import pytest

from eventrouter.router.destinations import validate_config
from eventrouter.router.destinations.base import OutcomeKind
from eventrouter.router.destinations.email import EmailConfig
from eventrouter.router.destinations.email_message import mime_message, sendgrid_body, subject
from eventrouter.router.destinations.sendgrid import classify
from eventrouter.router.destinations.smtp import SmtpConfig
from eventrouter.router.errors import ConfigError
from eventrouter.router.events import Event, new_event_id

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def make_event(env: str | None = "prod") -> Event:
    return Event(
        id=new_event_id(),
        name="payment:failed",
        org="acme",
        env=env,
        payload={"message": "card <declined>", "invoice": "in_1"},
    )


@pytest.mark.parametrize(
    ("smtp", "port", "tls"),
    [
        ({}, 465, "ssl"),
        ({"port": 465}, 465, "ssl"),
        ({"port": 587}, 587, "starttls"),
        ({"port": 2525}, 2525, "starttls"),
        ({"tls": "starttls"}, 587, "starttls"),
        ({"tls": "none"}, 25, "none"),
        ({"tls": "none", "port": 1025}, 1025, "none"),
    ],
)
def test_smtp_tls_and_port_defaults(smtp: dict[str, Any], port: int, tls: str) -> None:
    config = SmtpConfig(host="mail.example.com", **smtp)
    assert (config.port, config.tls) == (port, tls)


@pytest.mark.parametrize(
    ("cfg", "fragment"),
    [
        ({"to": ["a@b.co"], "smtp": {"host": "h"}}, "from_address: Field required"),
        ({"from_address": "x@y.co", "to": [], "smtp": {"host": "h"}}, "to"),
        ({"from_address": "x@y.co", "to": ["nope"], "smtp": {"host": "h"}}, "not an email"),
        ({"from_address": "x@y.co", "to": ["a@b.co"]}, "--smtp-host"),
        (
            {
                "from_address": "x@y.co",
                "to": ["a@b.co"],
                "smtp": {"host": "h", "tls": "none", "username": "u", "password": "p"},
            },
            "cleartext",
        ),
        (
            {"from_address": "x@y.co", "to": ["a@b.co"], "smtp": {"host": "h", "username": "u"}},
            "both --username and --password",
        ),
        (
            {"from_address": "x@y.co", "to": ["a@b.co"], "smtp": {"host": "h", "tls": "tls"}},
            "smtp.tls",
        ),
        (
            {
                "from_address": "x@y.co",
                "to": ["a@b.co"],
                "smtp": {"host": "h", "ca_file": "/nonexistent/ca.pem"},
            },
            "does not exist",
        ),
        (
            {
                "from_address": "x@y.co",
                "to": ["a@b.co"],
                "smtp": {"host": "h"},
                "subject": "${nope}",
            },
            "unknown placeholder",
        ),
    ],
)
def test_config_errors(cfg: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError, match="invalid email destination") as info:
        validate_config("email", cfg)
    assert fragment in str(info.value)


def test_subject_default_and_template() -> None:
    assert subject(make_event(), None, NOW) == "[prod] payment:failed"
    assert subject(make_event(env=None), None, NOW) == "payment:failed"
    config = EmailConfig(
        from_address="a@b.co",
        to=["c@d.co"],
        smtp=SmtpConfig(host="h"),
        subject="${name} ${payload.invoice}",
    )
    assert subject(make_event(), config.subject_template, NOW) == "payment:failed in_1"


def test_mime_message_has_plain_and_html_parts() -> None:
    event = make_event()
    msg = mime_message(
        event,
        sender="Alerts <alerts@example.com>",
        to=["a@b.co", "c@d.co"],
        subject_line="[prod] payment:failed",
        now=NOW,
    )
    parsed = message_from_bytes(msg.as_bytes(), policy=default_policy)
    assert parsed["To"] == "a@b.co, c@d.co"
    assert parsed["Message-ID"].startswith(f"<{event.id}.")
    assert parsed["Message-ID"].endswith("@example.com>")
    plain = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert "card <declined>" in plain and "invoice" in plain
    assert "card &lt;declined&gt;" in html and "<declined>" not in html


def test_sendgrid_body_shape() -> None:
    event = make_event()
    body = sendgrid_body(
        event, sender="Alerts <alerts@example.com>", to=["a@b.co"], subject_line="s"
    )
    assert body["personalizations"] == [{"to": [{"email": "a@b.co"}]}]
    assert body["from"] == {"email": "alerts@example.com", "name": "Alerts"}
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]
    json.dumps(body)


def test_sendgrid_answers() -> None:
    ok = classify(202, {"x-message-id": "abc123"}, "")
    assert (ok.kind, ok.response_body) == (OutcomeKind.SUCCEEDED, "X-Message-Id: abc123")
    errors = json.dumps(
        {
            "errors": [
                {
                    "message": "The from address does not match a verified Sender Identity.",
                    "field": "from",
                    "help": None,
                }
            ]
        }
    )
    for status in (400, 401, 403):
        bad = classify(status, {}, errors)
        assert bad.kind is OutcomeKind.FAILED
        assert "verified Sender Identity" in (bad.error or "")
    limited = classify(429, {"retry-after": "12"}, '{"errors":[{"message":"too many"}]}')
    assert (limited.kind, limited.retry_after) == (OutcomeKind.RETRY, 12)
    assert classify(503, {}, "").kind is OutcomeKind.RETRY
