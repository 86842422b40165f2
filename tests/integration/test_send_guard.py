"""The SSRF guard at send time: the worker's own HTTP client and SMTP connections refuse
internal addresses (the destination was stored before the rule, or DNS changed since),
and connect to the checked address when it is allowed, TLS names intact."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from eventrouter.router.destinations.base import OutcomeKind, SendContext
from eventrouter.router.destinations.context import make_send_context
from eventrouter.router.netguard import parse_networks
from eventrouter.router.settings import Settings
from eventrouter.workers.delivery import deliver_batch
from tests.helpers import Seed, rows
from tests.integration.test_email_send import make_event, send, smtp
from tests.receiver import Receiver, ok
from tests.smtp_server import Certs, SmtpServer, make_certs


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def strict(settings: Settings) -> Iterator[SendContext]:
    ctx = make_send_context(settings.model_copy(update={"allowed_networks": ""}))
    yield ctx
    ctx.http.close()


def test_a_stored_loopback_webhook_is_refused_at_send_time(
    strict: SendContext, settings: Settings, clean_db: Engine, seed: Seed
) -> None:
    with Receiver(ok()) as receiver:
        _, hook, _ = seed.route(".*", receiver.url_for("/hook"))  # written past the admin check
        delivery = seed.delivery(seed.event(), hook)
        summary = deliver_batch(clean_db, strict, settings, hook, [delivery])
        assert summary.failed == 1
        assert receiver.count() == 0
    (attempt,) = rows(clean_db, "SELECT outcome, error FROM delivery_attempts")
    assert attempt.outcome == "failed"
    assert "refused to connect" in attempt.error and "loopback" in attempt.error


def test_allowed_networks_let_the_worker_through(
    settings: Settings, clean_db: Engine, seed: Seed
) -> None:
    ctx = make_send_context(settings)  # the test settings allow 127.0.0.0/8
    with Receiver(ok()) as receiver:
        _, hook, _ = seed.route(".*", receiver.url_for("/hook"))
        delivery = seed.delivery(seed.event(), hook)
        assert deliver_batch(clean_db, ctx, settings, hook, [delivery]).succeeded == 1
        assert receiver.count() == 1
    ctx.http.close()


def test_smtp_to_an_internal_host_is_refused_and_nothing_sent(strict: SendContext) -> None:
    with SmtpServer(tls="none") as server:
        outcome = send(smtp(server, tls="none"), strict, make_event())
        assert outcome.kind is OutcomeKind.FAILED
        assert "refused to connect" in (outcome.error or "") and "loopback" in (outcome.error or "")
        assert server.messages == []


def test_smtp_dials_the_checked_address_and_still_verifies_the_tls_name(
    strict: SendContext, certs: Certs
) -> None:
    allowed = dataclasses.replace(strict, allowed_networks=parse_networks("127.0.0.0/8, ::1/128"))
    with SmtpServer(tls="starttls", certs=certs) as server:
        config = smtp(server, tls="starttls", ca_file=str(certs.ca_file))
        config["smtp"]["host"] = "localhost"  # the certificate's name, resolved and pinned
        outcome = send(config, allowed, make_event())
        assert outcome.kind is OutcomeKind.SUCCEEDED, outcome
        assert len(server.wait_for_messages(1)) == 1
