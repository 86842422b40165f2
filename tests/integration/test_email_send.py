"""Email over a real SMTP server (aiosmtpd on loopback) in each TLS mode, and SendGrid with
SMTP fallback against a local stand-in answering as SendGrid documents."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from eventrouter.router.destinations.base import OutcomeKind, SendContext
from eventrouter.router.destinations.email import Email, EmailConfig
from eventrouter.router.events import Event, new_event_id
from tests.receiver import Receiver, always
from tests.smtp_server import Certs, Inbox, SilentServer, SmtpServer, make_certs


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def ctx() -> Iterator[SendContext]:
    with httpx.Client() as http:
        yield SendContext(http=http, default_timeout=2)


def make_event() -> Event:
    return Event(
        id=new_event_id(),
        name="disk:full",
        org="acme",
        env="prod",
        payload={"message": "db-1 at 97%", "host": "db-1"},
    )


def send(config: dict[str, Any], ctx: SendContext, event: Event | None = None) -> Any:
    model = EmailConfig.model_validate(
        {"from_address": "Alerts <alerts@example.com>", "to": ["ops@example.com"], **config}
    )
    return Email().send(event or make_event(), model, 1, ctx)


def smtp(server: SmtpServer, **extra: Any) -> dict[str, Any]:
    return {"smtp": {"host": "127.0.0.1", "port": server.port, **extra}}


def test_plain_relay_when_asked_for(ctx: SendContext) -> None:
    with SmtpServer(tls="none") as server:
        event = make_event()
        outcome = send(smtp(server, tls="none"), ctx, event)
        assert outcome.kind is OutcomeKind.SUCCEEDED, outcome
        assert outcome.response_body == "250 2.0.0 Ok: queued as TEST0001"
        [received] = server.wait_for_messages(1)
    assert received.mail_from == "alerts@example.com"
    assert received.rcpt_tos == ["ops@example.com"]
    msg = received.message
    assert msg["Subject"] == "[prod] disk:full"
    assert msg["X-Eventrouter-Event-Id"] == event.id
    assert "db-1 at 97%" in msg.get_body(("plain",)).get_content()
    assert "<h2>disk:full</h2>" in msg.get_body(("html",)).get_content()


def test_starttls_with_login_verified_against_the_ca(ctx: SendContext, certs: Certs) -> None:
    with SmtpServer(tls="starttls", certs=certs) as server:
        outcome = send(
            smtp(
                server,
                tls="starttls",
                username="alerts",
                password="s3cret-pw",
                ca_file=str(certs.ca_file),
            ),
            ctx,
        )
        assert outcome.kind is OutcomeKind.SUCCEEDED, outcome
        assert len(server.wait_for_messages(1)) == 1


def test_implicit_tls(ctx: SendContext, certs: Certs) -> None:
    with SmtpServer(tls="ssl", certs=certs) as server:
        outcome = send(smtp(server, tls="ssl", ca_file=str(certs.ca_file)), ctx)
        assert outcome.kind is OutcomeKind.SUCCEEDED, outcome
        assert len(server.wait_for_messages(1)) == 1


def test_unverifiable_certificate_fails_and_sends_nothing(ctx: SendContext, certs: Certs) -> None:
    with SmtpServer(tls="starttls", certs=certs) as server:
        outcome = send(smtp(server, tls="starttls"), ctx)  # system CAs do not know ours
        assert outcome.kind is OutcomeKind.FAILED
        assert "could not be verified" in outcome.error
        assert server.messages == []


def test_starttls_asked_but_not_offered_never_falls_back_to_cleartext(ctx: SendContext) -> None:
    with SmtpServer(tls="none") as server:
        outcome = send(smtp(server, tls="starttls"), ctx)
        assert outcome.kind is OutcomeKind.FAILED
        assert "does not offer STARTTLS; refusing to send in cleartext" in outcome.error
        assert server.messages == []


def test_implicit_tls_against_a_plain_server_fails(ctx: SendContext, certs: Certs) -> None:
    with SmtpServer(tls="none") as server:
        outcome = send(smtp(server, tls="ssl", ca_file=str(certs.ca_file)), ctx)
        assert outcome.kind is OutcomeKind.FAILED
        assert "TLS with 127.0.0.1" in outcome.error
        assert server.messages == []


def test_wrong_password_is_permanent(ctx: SendContext, certs: Certs) -> None:
    with SmtpServer(tls="starttls", certs=certs) as server:
        outcome = send(
            smtp(
                server,
                tls="starttls",
                username="alerts",
                password="wrong",
                ca_file=str(certs.ca_file),
            ),
            ctx,
        )
        assert outcome.kind is OutcomeKind.FAILED
        assert outcome.error.startswith("SMTP authentication failed at 127.0.0.1")
        assert "535" in outcome.error


@pytest.mark.parametrize(
    ("reply", "kind"),
    [
        ("550 5.1.1 <ops@example.com>: user unknown", OutcomeKind.FAILED),
        ("450 4.2.1 mailbox busy", OutcomeKind.RETRY),
    ],
)
def test_refused_recipient(ctx: SendContext, reply: str, kind: OutcomeKind) -> None:
    inbox = Inbox(refuse_rcpt={"ops@example.com": reply})
    with SmtpServer(tls="none", inbox=inbox) as server:
        outcome = send(smtp(server, tls="none"), ctx)
        assert outcome.kind is kind
        assert reply in outcome.error
        assert server.messages == []


def test_partially_refused_recipients_still_deliver_and_say_who_was_refused(
    ctx: SendContext,
) -> None:
    inbox = Inbox(refuse_rcpt={"gone@example.com": "550 5.1.1 user unknown"})
    with SmtpServer(tls="none", inbox=inbox) as server:
        outcome = send(
            {"to": ["ops@example.com", "gone@example.com"], **smtp(server, tls="none")}, ctx
        )
        assert outcome.kind is OutcomeKind.SUCCEEDED
        assert "refused: gone@example.com: 550 5.1.1 user unknown" in outcome.response_body
        assert server.wait_for_messages(1)[0].rcpt_tos == ["ops@example.com"]


def test_temporary_data_refusal_retries(ctx: SendContext) -> None:
    with SmtpServer(tls="none", inbox=Inbox(data_reply="451 4.3.0 try again later")) as server:
        outcome = send(smtp(server, tls="none"), ctx)
        assert outcome.kind is OutcomeKind.RETRY
        assert "451 4.3.0 try again later" in outcome.error


def test_silent_server_times_out_and_retries(ctx: SendContext) -> None:
    with SilentServer() as silent:
        outcome = send(
            {"smtp": {"host": "127.0.0.1", "port": silent.port, "tls": "none"}, "timeout": 0.5},
            ctx,
        )
    assert outcome.kind is OutcomeKind.RETRY
    assert "timed out after 0.5s" in outcome.error


def test_connection_refused_retries(ctx: SendContext) -> None:
    with SilentServer() as silent:
        port = silent.port
    outcome = send({"smtp": {"host": "127.0.0.1", "port": port, "tls": "none"}}, ctx)
    assert outcome.kind is OutcomeKind.RETRY


# -- SendGrid, and SendGrid with SMTP as the fallback -------------------------------------
def sendgrid_accepts(message_id: str = "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"):
    return always(202, b"", **{"X-Message-Id": message_id})


def test_sendgrid_request_shape(ctx: SendContext) -> None:
    with Receiver(sendgrid_accepts()) as sendgrid:
        event = make_event()
        outcome = send(
            {"sendgrid": {"api_key": "SG.test-key", "api_url": sendgrid.url}}, ctx, event
        )
        [request] = sendgrid.requests()
    assert outcome.kind is OutcomeKind.SUCCEEDED
    assert (
        outcome.response_body == "X-Message-Id: 14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0"
    )
    assert (request.method, request.path) == ("POST", "/v3/mail/send")
    assert request.headers["authorization"] == "Bearer SG.test-key"
    body = request.json
    assert body["personalizations"] == [{"to": [{"email": "ops@example.com"}]}]
    assert body["from"] == {"email": "alerts@example.com", "name": "Alerts"}
    assert body["subject"] == "[prod] disk:full"
    assert [c["type"] for c in body["content"]] == ["text/plain", "text/html"]


def test_sendgrid_retryable_failure_falls_back_to_smtp(ctx: SendContext) -> None:
    unavailable = always(503, {"errors": [{"message": "Service Unavailable"}]})
    with Receiver(unavailable) as sendgrid, SmtpServer(tls="none") as server:
        outcome = send(
            {"sendgrid": {"api_key": "SG.k", "api_url": sendgrid.url}, **smtp(server, tls="none")},
            ctx,
        )
        assert outcome.kind is OutcomeKind.SUCCEEDED, outcome
        assert outcome.response_body.startswith("SendGrid failed (SendGrid: HTTP 503")
        assert "sent via SMTP: 250 2.0.0 Ok" in outcome.response_body
        assert sendgrid.count() == 1 and len(server.wait_for_messages(1)) == 1


def test_sendgrid_permanent_failure_does_not_fall_back(ctx: SendContext) -> None:
    unauthorized = always(
        401,
        {
            "errors": [
                {
                    "field": None,
                    "message": "The provided authorization grant is invalid, expired, or revoked",
                    "help": None,
                }
            ]
        },
    )
    with Receiver(unauthorized) as sendgrid, SmtpServer(tls="none") as server:
        outcome = send(
            {"sendgrid": {"api_key": "SG.k", "api_url": sendgrid.url}, **smtp(server, tls="none")},
            ctx,
        )
        assert outcome.kind is OutcomeKind.FAILED
        assert "authorization grant is invalid" in outcome.error
        assert server.messages == []


def test_both_failing_retries_with_both_reasons(ctx: SendContext) -> None:
    limited = always(429, {"errors": [{"message": "too many requests"}]}, **{"Retry-After": "9"})
    with Receiver(limited) as sendgrid, SilentServer() as silent:
        outcome = send(
            {
                "sendgrid": {"api_key": "SG.k", "api_url": sendgrid.url},
                "smtp": {"host": "127.0.0.1", "port": silent.port, "tls": "none"},
                "timeout": 0.5,
            },
            ctx,
        )
    assert outcome.kind is OutcomeKind.RETRY
    assert outcome.retry_after == 9
    assert "too many requests" in outcome.error and "timed out" in outcome.error
