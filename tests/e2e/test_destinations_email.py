"""Email end to end: SMTP (aiosmtpd with STARTTLS and a throwaway CA), SendGrid against a
local stand-in answering as SendGrid documents, and SendGrid falling back to SMTP, through
the real router and worker processes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.destination_helpers import attempts, route, send, wait_final
from tests.e2e.stack import Stack
from tests.providers import SendGridMail
from tests.receiver import Receiver
from tests.smtp_server import Certs, SilentServer, SmtpServer, make_certs

API_KEY = "SG.test-key.abcdef"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def sendgrid() -> Iterator[Receiver]:
    with Receiver(SendGridMail(API_KEY)) as rx:
        yield rx


def base(**extra: object) -> dict[str, object]:
    return {"from_address": "Alerts <alerts@example.com>", "to": ["ops@example.com"], **extra}


def test_smtp_starttls_delivers_the_message(fresh: Stack, certs: Certs) -> None:
    with SmtpServer(tls="starttls", certs=certs) as smtp:
        route(
            fresh,
            "email",
            base(
                subject="${name} on ${payload.host}",
                smtp={
                    "host": "127.0.0.1",
                    "port": smtp.port,
                    "tls": "starttls",
                    "username": "alerts",
                    "password": "s3cret-pw",
                    "ca_file": str(certs.ca_file),
                },
            ),
        )
        event_id = send(fresh)
        assert wait_final(fresh, event_id).status == "succeeded"
        [received] = smtp.messages
    assert received.message["Subject"] == "disk:full on db-1"
    assert received.message["X-Eventrouter-Event-Id"] == event_id
    assert "db-1 at 97%" in received.message.get_body(("plain",)).get_content()
    [attempt] = attempts(fresh, event_id)
    assert (attempt.outcome, attempt.http_status) == ("succeeded", None)
    assert attempt.response_body == "250 2.0.0 Ok: queued as TEST0001"


def test_smtp_timeout_retries(fresh: Stack) -> None:
    with SilentServer() as silent:
        route(
            fresh,
            "email",
            base(smtp={"host": "127.0.0.1", "port": silent.port, "tls": "none"}, timeout=0.5),
        )
        event_id = send(fresh)
        final = wait_final(fresh, event_id)
    assert final.status == "failed"
    assert [a.outcome for a in attempts(fresh, event_id)] == ["retry", "retry"]
    assert final.last_error.endswith(f"SMTP 127.0.0.1:{silent.port} timed out after 0.5s")


def test_sendgrid_delivers_and_records_the_message_id(fresh: Stack, sendgrid: Receiver) -> None:
    route(fresh, "email", base(sendgrid={"api_key": API_KEY, "api_url": sendgrid.url}))
    event_id = send(fresh)
    assert wait_final(fresh, event_id).status == "succeeded"
    [request] = sendgrid.requests()
    assert request.json["subject"] == "[prod] disk:full"
    assert request.json["personalizations"] == [{"to": [{"email": "ops@example.com"}]}]
    [attempt] = attempts(fresh, event_id)
    assert (attempt.outcome, attempt.http_status) == ("succeeded", 202)
    assert attempt.response_body == "X-Message-Id: W2p0bXJ0c1ZTa0Rzd3NxX2RzLjE"


@pytest.mark.parametrize(
    ("key", "mode", "status", "words"),
    [
        (API_KEY, "unverified_sender", 400, "does not match a verified Sender Identity"),
        ("SG.wrong", "ok", 401, "authorization grant is invalid"),
    ],
)
def test_sendgrid_rejections_are_permanent(
    fresh: Stack, sendgrid: Receiver, key: str, mode: str, status: int, words: str
) -> None:
    sendgrid.set_behaviour(SendGridMail(API_KEY, default=mode))
    route(fresh, "email", base(sendgrid={"api_key": key, "api_url": sendgrid.url}))
    event_id = send(fresh)
    assert wait_final(fresh, event_id).status == "failed"
    [attempt] = attempts(fresh, event_id)
    assert (attempt.outcome, attempt.http_status) == ("failed", status)
    assert words in attempt.error


def test_sendgrid_429_waits_for_the_reset_then_delivers(fresh: Stack, sendgrid: Receiver) -> None:
    sendgrid.set_behaviour(SendGridMail(API_KEY, ["throttle"]))
    route(fresh, "email", base(sendgrid={"api_key": API_KEY, "api_url": sendgrid.url}))
    event_id = send(fresh)
    assert wait_final(fresh, event_id).status == "succeeded"
    first, second = attempts(fresh, event_id)
    assert (first.outcome, first.http_status) == ("retry", 429)
    assert "too many requests" in first.error
    assert second.http_status == 202


def test_sendgrid_outage_falls_back_to_smtp(fresh: Stack, sendgrid: Receiver) -> None:
    sendgrid.set_behaviour(SendGridMail(API_KEY, default="unavailable"))
    with SmtpServer(tls="none") as smtp:
        route(
            fresh,
            "email",
            base(
                sendgrid={"api_key": API_KEY, "api_url": sendgrid.url},
                smtp={"host": "127.0.0.1", "port": smtp.port, "tls": "none"},
            ),
        )
        event_id = send(fresh)
        assert wait_final(fresh, event_id).status == "succeeded"
        assert len(smtp.messages) == 1
    [attempt] = attempts(fresh, event_id)
    assert attempt.outcome == "succeeded"
    assert attempt.response_body.startswith("SendGrid failed (SendGrid: HTTP 503")
    assert "sent via SMTP: 250" in attempt.response_body
