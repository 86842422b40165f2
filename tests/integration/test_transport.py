"""The lean transport on loopback sockets: HTTP/1.1 framing, pooling, errors, the guard hook.

A tiny scripted server answers each request with canned bytes, so framing the test
receiver would never produce (chunked with trailers, read-to-close, 1xx, garbage) is
exercised; the behaviour shared with httpx's own transport is also covered by running
test_delivery.py with both clients.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
from collections.abc import Callable, Iterator

import httpx
import pytest

from eventrouter.router.destinations.transport import LeanHTTPTransport, WebhookClient, http_client
from eventrouter.router.netguard import blocked_reason, parse_networks

Script = Callable[[bytes], bytes | None]
"""Given one request (head and body), the bytes to answer; ``None`` closes the connection."""


class ScriptedServer:
    """Answers requests from a script; counts connections and records requests."""

    def __init__(self, script: Script, *, close_after: bool = False) -> None:
        self.script = script
        self.close_after = close_after
        self.connections = 0
        self.requests: list[bytes] = []
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self.port = self._sock.getsockname()[1]
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.connections += 1
            self._open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while True:
                while b"\r\n\r\n" not in buffer:
                    try:
                        chunk = conn.recv(65536)
                    except OSError:
                        return
                    if not chunk:
                        return
                    buffer += chunk
                head, _, rest = buffer.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                while len(rest) < length:
                    rest += conn.recv(65536)
                request, buffer = head + b"\r\n\r\n" + rest[:length], rest[length:]
                self.requests.append(request)
                answer = self.script(request)
                if answer is None:
                    return
                try:
                    conn.sendall(answer)
                except OSError:  # the test already closed the server
                    return
                if self.close_after:
                    return

    def close_idle(self) -> None:
        """Close every server-side connection (as a keep-alive timeout would)."""
        for conn in self._open:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def stop(self) -> None:
        self._sock.close()
        self.close_idle()


def answer(body: bytes = b"ok", status: str = "200 OK", headers: bytes = b"") -> Script:
    response = (
        f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n".encode() + headers + b"\r\n" + body
    )
    return lambda _request: response


@pytest.fixture
def serve() -> Iterator[Callable[..., ScriptedServer]]:
    servers: list[ScriptedServer] = []

    def start(script: Script, **kwargs: bool) -> ScriptedServer:
        server = ScriptedServer(script, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with WebhookClient(transport=LeanHTTPTransport(), timeout=2.0) as c:
        yield c


def test_content_length_body_and_keep_alive(serve, client) -> None:
    server = serve(answer(b'{"ok":true}', headers=b"Content-Type: application/json\r\n"))
    first = client.post(server.url(), content=b"x" * 10, headers={"webhook-id": "e1"})
    second = client.post(server.url(), content=b"y")
    assert (first.status_code, first.json(), second.text) == (200, {"ok": True}, '{"ok":true}')
    assert first.http_version == "HTTP/1.1" and first.reason_phrase == "OK"
    assert server.connections == 1
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    assert head.startswith(b"POST /hook HTTP/1.1\r\n")
    assert b"\r\nwebhook-id: e1" in head and b"\r\nContent-Length: 10" in head.title()
    assert body == b"x" * 10


def test_chunked_body_with_extensions_and_trailers(serve, client) -> None:
    response = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    )
    server = serve(lambda _r: response)
    assert client.get(server.url()).text == "hello world"
    assert client.get(server.url()).text == "hello world"
    assert server.connections == 1


def test_body_read_to_close_is_not_reused(serve, client) -> None:
    server = serve(lambda _r: b"HTTP/1.1 200 OK\r\n\r\nuntil close", close_after=True)
    assert client.get(server.url()).text == "until close"
    assert client.get(server.url()).text == "until close"
    assert server.connections == 2


def test_connection_close_and_http_1_0_are_honoured(serve, client) -> None:
    closing = serve(answer(headers=b"Connection: close\r\n"), close_after=True)
    client.get(closing.url())
    client.get(closing.url())
    assert closing.connections == 2
    old = serve(lambda _r: b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", close_after=True)
    client.get(old.url())
    client.get(old.url())
    assert old.connections == 2


def test_interim_100_continue_is_skipped(serve, client) -> None:
    server = serve(lambda _r: b"HTTP/1.1 100 Continue\r\n\r\n" + answer(b"done")(b""))
    response = client.post(server.url(), content=b"{}")
    assert (response.status_code, response.text) == (200, "done")


def test_no_body_for_head_and_204(serve, client) -> None:
    server = serve(lambda r: b"HTTP/1.1 204 No Content\r\n\r\n")
    assert client.post(server.url(), content=b"{}").content == b""
    head = serve(lambda r: b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n")
    assert client.head(head.url()).content == b""
    assert client.head(head.url()).status_code == 200


def test_headers_repeat_and_gzip_is_decoded_by_httpx(serve, client) -> None:
    packed = gzip.compress(b"compressed body")
    server = serve(
        answer(
            packed,
            "503 Service Unavailable",
            b"Content-Encoding: gzip\r\nRetry-After: 7\r\nX-A: 1\r\nX-A: 2\r\n",
        )
    )
    response = client.post(server.url(), content=b"{}")
    assert response.status_code == 503 and response.text == "compressed body"
    assert response.headers["retry-after"] == "7"
    assert response.headers.get_list("x-a") == ["1", "2"]


def test_a_connection_closed_while_idle_is_replaced_not_failed(serve, client) -> None:
    server = serve(answer())
    client.get(server.url())
    server.close_idle()
    threading.Event().wait(0.05)
    assert client.get(server.url()).status_code == 200
    assert server.connections == 2


def test_read_timeout(serve) -> None:
    server = serve(lambda _r: (threading.Event().wait(1.0), answer()(b""))[1])
    with WebhookClient(transport=LeanHTTPTransport()) as short, pytest.raises(httpx.ReadTimeout):
        short.post(server.url(), content=b"{}", timeout=0.2)


def test_connection_refused_is_a_connect_error(client) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(httpx.ConnectError):
        client.get(f"http://127.0.0.1:{port}/")


@pytest.mark.parametrize(
    "reply",
    [b"garbage\r\n\r\n", b"HTTP/1.1 abc OK\r\n\r\n", b"HTTP/1.1 200 OK\r\nbad header\r\n\r\n"],
)
def test_malformed_responses_are_protocol_errors(serve, client, reply: bytes) -> None:
    server = serve(lambda _r: reply)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(server.url())


def test_server_closing_without_an_answer_is_a_protocol_error(serve, client) -> None:
    server = serve(lambda _r: None)
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        client.get(server.url())


def test_a_header_with_a_line_break_is_refused_before_sending(serve, client) -> None:
    server = serve(answer())
    with pytest.raises(httpx.LocalProtocolError):
        client.post(server.url(), headers={"x-evil": "a\r\nInjected: 1"})
    assert server.requests == []


def test_addresses_for_pins_tries_in_order_and_refuses(serve) -> None:
    server = serve(answer())
    seen: list[tuple[str, int]] = []

    def pin(host: str, port: int) -> list[str]:
        seen.append((host, port))
        return ["127.0.0.2", "127.0.0.1"]  # nobody listens on .2: the next one answers

    with WebhookClient(transport=LeanHTTPTransport(addresses_for=pin)) as pinned:
        url = f"http://localhost.invalid:{server.port}/hook"
        assert pinned.get(url).status_code == 200
    assert seen == [("localhost.invalid", server.port)]

    class Refused(Exception):
        pass

    def refuse(host: str, port: int) -> list[str]:
        raise Refused(f"{host} is internal")

    with (
        WebhookClient(transport=LeanHTTPTransport(addresses_for=refuse)) as guarded,
        pytest.raises(httpx.ConnectError, match="is internal") as raised,
    ):
        guarded.get(server.url())
    assert isinstance(raised.value.__cause__, Refused)


def test_the_worker_client_refuses_loopback_unless_allowed(serve) -> None:
    server = serve(answer())
    with http_client(2.0, allowed=()) as strict, pytest.raises(httpx.ConnectError) as raised:
        strict.get(server.url())
    assert blocked_reason(raised.value) is not None and "loopback" in str(raised.value)
    assert server.requests == []
    with http_client(2.0, allowed=parse_networks("127.0.0.0/8")) as allowed:
        assert allowed.get(server.url()).status_code == 200


def test_webhook_client_keeps_no_cookies(serve) -> None:
    server = serve(answer(headers=b"Set-Cookie: session=abc; Path=/\r\n"))
    with http_client(2.0) as c:
        c.get(server.url())
        c.get(server.url())
        assert not c.cookies
    assert b"cookie" not in server.requests[1].lower()


# -- send_bytes: the worker's path, straight to the transport ------------------------------


def _header_lines(request: bytes) -> list[bytes]:
    head = request.partition(b"\r\n\r\n")[0]
    return sorted(line.lower() for line in head.split(b"\r\n")[1:])


def test_send_bytes_puts_on_the_wire_what_request_would(serve, client) -> None:
    server = serve(answer())
    headers = {"User-Agent": "mine/1", "webhook-id": "e1", "content-type": "application/json"}
    client.post(server.url("/hook?a=1"), content=b'{"x":1}', headers=headers, timeout=2.0)
    reply = client.send_bytes(
        "POST", server.url("/hook?a=1"), content=b'{"x":1}', headers=headers, timeout=2.0
    )
    assert reply.status_code == 200 and reply.text == "ok"
    via_httpx, direct = server.requests
    assert direct.partition(b"\r\n")[0] == b"POST /hook?a=1 HTTP/1.1"
    assert _header_lines(direct) == _header_lines(via_httpx)
    assert b"user-agent: mine/1" in _header_lines(direct)  # the given one replaces the default
    assert direct.partition(b"\r\n\r\n")[2] == via_httpx.partition(b"\r\n\r\n")[2] == b'{"x":1}'
    assert server.connections == 1  # both went over the one pooled connection


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (b"text/plain; charset=iso-8859-1", "d\xe9j\xe0 vu".encode("latin-1")),
        (b"text/plain; charset=no-such-codec", "caf\xe9 \xff".encode("latin-1")),
        (b"application/json", '{"caf\xe9": true}'.encode()),
    ],
)
def test_a_reply_reads_like_an_httpx_response(serve, client, content_type, body) -> None:
    server = serve(
        answer(
            gzip.compress(body),
            "503 Service Unavailable",
            b"Content-Type: " + content_type + b"\r\nContent-Encoding: gzip\r\n"
            b"Retry-After: 7\r\nX-A: 1\r\nX-A: 2\r\n",
        )
    )
    expected = client.post(server.url(), content=b"{}")
    reply = client.send_bytes("POST", server.url(), content=b"{}", headers={}, timeout=2.0)
    assert (reply.status_code, reply.text) == (expected.status_code, expected.text)
    for name in ("retry-after", "Retry-After", "x-a", "content-type", "content-encoding"):
        assert reply.headers.get(name) == expected.headers.get(name)
    assert reply.headers["X-A"] == "1, 2"


def test_send_bytes_fails_as_request_does(serve, client) -> None:
    evil = serve(answer())
    with pytest.raises(httpx.LocalProtocolError):
        client.send_bytes("POST", evil.url(), content=b"", headers={"x": "a\r\nB: 1"}, timeout=2)
    assert evil.requests == []
    silent = serve(lambda _r: None)
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        client.send_bytes("POST", silent.url(), content=b"{}", headers={}, timeout=2)
    slow = serve(lambda _r: (threading.Event().wait(1.0), answer()(b""))[1])
    with pytest.raises(httpx.ReadTimeout):
        client.send_bytes("POST", slow.url(), content=b"{}", headers={}, timeout=0.2)
    with http_client(2.0, allowed=()) as strict, pytest.raises(httpx.ConnectError) as raised:
        strict.send_bytes("POST", evil.url(), content=b"{}", headers={}, timeout=2)
    assert blocked_reason(raised.value) is not None and evil.requests == []
