"""SMTP servers that misbehave on purpose (tests/hostile.py): a reply that never ends, one
that trickles, and plaintext injected after STARTTLS. The worker stays within bounds."""

from __future__ import annotations

import time
from email.message import EmailMessage

from eventrouter.router.destinations.base import Outcome, OutcomeKind
from eventrouter.router.destinations.smtp import SmtpConfig, send_smtp
from tests.hostile import HostileServer, Peer, endless_reply, trickle


def attempt(server: HostileServer, timeout: float, tls: str = "none") -> tuple[Outcome, float]:
    """One message to ``server``; its outcome and the seconds it took."""
    config = SmtpConfig(host="127.0.0.1", port=server.port, tls=tls)
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@example.com", "b@example.com", "s"
    msg.set_content("hello")
    began = time.monotonic()
    outcome = send_smtp(config, msg, ["b@example.com"], timeout)
    return outcome, time.monotonic() - began


def test_an_endless_multi_line_reply_is_cut_at_64_kib() -> None:
    """Before: smtplib appended continuation lines ('220-…') for as long as they came."""
    with HostileServer(endless_reply()) as server:
        outcome, took = attempt(server, timeout=5.0)
        assert server.closed_by_client.wait(5)
    assert outcome.kind is OutcomeKind.RETRY
    assert "reply longer than 64 KiB" in outcome.error
    assert took < 5.0


def test_a_trickling_reply_ends_at_the_timeout() -> None:
    greeting = b"220-" + b"x" * 1000 + b"\r\n220 ready\r\n"
    with HostileServer(trickle(0.3, greeting, request=False)) as server:
        outcome, took = attempt(server, timeout=1.0)
    assert outcome.kind is OutcomeKind.RETRY and outcome.timed_out
    assert "timed out after 1s" in outcome.error
    assert took < 1.6


def test_plaintext_sent_after_the_starttls_answer_is_refused() -> None:
    def injects(peer: Peer) -> None:
        peer.send(b"220 hostile ESMTP\r\n")
        peer.read_line()  # EHLO
        peer.send(b"250-hostile\r\n250 STARTTLS\r\n")
        peer.read_line()  # STARTTLS
        peer.send(b"220 go ahead\r\n250 injected before TLS\r\n")
        peer.pause(5)

    with HostileServer(injects) as server:
        outcome, _ = attempt(server, timeout=2.0, tls="starttls")
    assert outcome.kind is OutcomeKind.RETRY
    assert "before TLS was set up" in outcome.error
