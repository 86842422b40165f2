"""The lean transport against hostile receivers (tests/hostile.py) on loopback sockets.

A request ends by its deadline however the server trickles, nothing a server sends grows
the client past the caps, and malformed framing or an absurd status is a protocol error.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from eventrouter.router.destinations.http11 import MAX_INTERIM_RESPONSES, Connection
from eventrouter.router.destinations.transport import LeanHTTPTransport, WebhookClient
from tests.hostile import (
    Behaviour,
    HostileServer,
    canned,
    endless_body,
    endless_continue,
    gzip_bomb,
    huge_head,
    negative_chunk,
    negative_content_length,
    status,
    trickle,
)

TIMEOUT = 0.6
INTERVAL = 0.25
"""The trickle's pause between bytes: well inside the socket timeout, so every recv gets
a byte in time and only the request's deadline can end it."""
MARGIN = 0.4


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with WebhookClient(transport=LeanHTTPTransport(), timeout=TIMEOUT) as c:
        yield c


def post_within(client: httpx.Client, behaviour: Behaviour) -> tuple[BaseException, float]:
    """POST to a server behaving as ``behaviour``; the error raised and the seconds taken."""
    with HostileServer(behaviour) as server:
        began = time.monotonic()
        with pytest.raises(httpx.HTTPError) as raised:
            client.post(server.url(), content=b'{"x":1}')
        took = time.monotonic() - began
        assert server.closed_by_client.wait(5), "the client never hung up"
    return raised.value, took


HEAD = b"HTTP/1.1 200 OK\r\n"
TRICKLES = {
    "head": trickle(INTERVAL),
    "content-length body": trickle(
        INTERVAL, b"y" * 1000, prefix=HEAD + b"Content-Length: 1000\r\n\r\n"
    ),
    "chunked body": trickle(
        INTERVAL, b"3e8\r\n" + b"y" * 1000, prefix=HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
    ),
    "read-to-close body": trickle(INTERVAL, b"y" * 1000, prefix=HEAD + b"\r\n"),
    "1xx loop": endless_continue(interval=INTERVAL),
}


@pytest.mark.parametrize("where", list(TRICKLES))
def test_a_trickling_server_is_cut_off_at_the_deadline(client, where: str) -> None:
    error, took = post_within(client, TRICKLES[where])
    assert isinstance(error, httpx.ReadTimeout), repr(error)
    assert f"within {TIMEOUT:g}s" in str(error)
    assert TIMEOUT - 0.05 <= took < TIMEOUT + MARGIN


def test_the_deadline_covers_connect_and_read_together() -> None:
    """Time spent before the connection exists (here a slow address lookup in the guard
    hook) comes out of the same budget as the answer: the request as a whole gets the
    timeout, not each phase."""

    def slow_lookup(host: str, port: int) -> list[str]:
        time.sleep(0.4)
        return ["127.0.0.1"]

    def answers_late(peer) -> None:  # type: ignore[no-untyped-def]
        peer.read_request()
        peer.pause(0.4)
        peer.send(HEAD + b"Content-Length: 2\r\n\r\nok")

    transport = LeanHTTPTransport(addresses_for=slow_lookup)
    with WebhookClient(transport=transport, timeout=TIMEOUT) as client:
        error, took = post_within(client, answers_late)
    assert isinstance(error, httpx.ReadTimeout)
    assert took < TIMEOUT + MARGIN


def test_a_server_that_never_reads_a_large_request_is_a_write_timeout(client) -> None:
    def never_reads(peer) -> None:  # type: ignore[no-untyped-def]
        peer.pause(30)

    with HostileServer(never_reads) as server:
        began = time.monotonic()
        with pytest.raises(httpx.WriteTimeout):
            client.post(server.url(), content=b"z" * (64 * 1024 * 1024))
        assert time.monotonic() - began < TIMEOUT + MARGIN


@pytest.mark.parametrize(
    "size", [b"-1", b"-10000", b"+5", b" 5", b"0x5", b"5_0", b"", b"g", b"1" * 17]
)
def test_chunk_sizes_are_hex_digits_only(client, size: bytes) -> None:
    response = HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + size + b"\r\nhello\r\n0\r\n\r\n"
    error, _ = post_within(client, canned(response))
    assert isinstance(error, httpx.RemoteProtocolError)
    assert "bad chunk size" in str(error)


def test_negative_chunks_cannot_bypass_the_body_cap(client) -> None:
    """Before: -N then N kept the running total at 0 while 1 MiB came through a 16 MiB cap
    (and as much more as the server liked)."""
    error, _ = post_within(client, negative_chunk())
    assert isinstance(error, httpx.RemoteProtocolError) and "bad chunk size" in str(error)


@pytest.mark.parametrize("value", [b"-5", b"+5", b"1_0", b"5, 5", b"abc", b"0x5", b"9" * 30])
def test_content_length_is_digits_only(client, value: bytes) -> None:
    error, _ = post_within(client, negative_content_length(value))
    assert isinstance(error, httpx.RemoteProtocolError)
    assert "Content-Length" in str(error) or "16 MiB" in str(error)


def test_conflicting_content_lengths_are_refused(client) -> None:
    response = HEAD + b"Content-Length: 2\r\nContent-Length: 5\r\n\r\nhello"
    error, _ = post_within(client, canned(response))
    assert isinstance(error, httpx.RemoteProtocolError) and "conflicting" in str(error)


def test_read_exactly_refuses_a_negative_size() -> None:
    left, right = socket.socketpair()
    with left, right:
        right.sendall(b"secret bytes")
        with pytest.raises(httpx.RemoteProtocolError, match="negative body size"):
            Connection(left).read_exactly(-5)
        assert Connection(left).read_exactly(0) == b""


@pytest.mark.parametrize(
    "code", [b"4294967296", b"2147483648", b"-1", b"99", b"600", b"+200", b"2000", b"20", b"2x0"]
)
def test_a_status_outside_100_to_599_is_a_protocol_error(client, code: bytes) -> None:
    error, _ = post_within(client, status(code))
    assert isinstance(error, httpx.RemoteProtocolError)
    assert "is not one from 100 to 599" in str(error)


def test_an_endless_100_continue_is_a_protocol_error(client) -> None:
    error, took = post_within(client, endless_continue())
    assert isinstance(error, httpx.RemoteProtocolError)
    assert f"more than {MAX_INTERIM_RESPONSES} interim" in str(error)
    assert took < TIMEOUT + MARGIN


def test_a_few_interim_responses_are_still_fine(client) -> None:
    response = b"HTTP/1.1 100 Continue\r\n\r\n" * 3 + b"HTTP/1.1 103 Early Hints\r\n\r\n"
    with HostileServer(canned(response + HEAD + b"Content-Length: 2\r\n\r\nok")) as server:
        assert client.post(server.url(), content=b"{}").text == "ok"


def test_an_endless_head_is_cut_at_64_kib(client) -> None:
    error, _ = post_within(client, huge_head())
    assert isinstance(error, httpx.RemoteProtocolError) and "64 KiB" in str(error)


def test_an_endless_body_is_cut_at_16_mib() -> None:
    with WebhookClient(transport=LeanHTTPTransport(), timeout=10) as client:
        error, _ = post_within(client, endless_body())
    assert isinstance(error, httpx.RemoteProtocolError) and "16 MiB" in str(error)


def test_a_gzip_bomb_is_cut_at_16_mib_once_inflated(client) -> None:
    """httpx inflates a body when the response is built: 64 KiB of gzip became 64 MiB."""
    error, _ = post_within(client, gzip_bomb(64))
    assert isinstance(error, httpx.RemoteProtocolError)
    assert "16 MiB once decompressed" in str(error)


def test_the_client_asks_only_for_codings_it_inflates_within_the_cap(client) -> None:
    seen: list[bytes] = []

    def record(peer) -> None:  # type: ignore[no-untyped-def]
        seen.append(peer.read_request())
        peer.send(HEAD + b"Content-Length: 2\r\n\r\nok")

    with HostileServer(record) as server:
        client.post(server.url(), content=b"{}")
    assert b"\r\naccept-encoding: gzip, deflate\r\n" in seen[0].lower()
