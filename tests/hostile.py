"""A hostile server on loopback: it answers the way an attacker or a broken peer would.

    with HostileServer(trickle(interval=0.3)) as server:
        client.post(server.url("/hook"), ...)      # must end at the client's deadline
        assert server.closed_by_client.wait(5)

Raw sockets, one thread per connection, 127.0.0.1 and an ephemeral port (modelled on
``tests/receiver.py``, which only ever answers well). What a connection gets is decided by
a *behaviour*: a callable given a ``Peer`` (read the next request, send bytes, pause);
ready-made ones cover the attacks the transport and adapters must survive: ``trickle``
(one byte per interval, forever), ``negative_chunk``, ``status`` (an absurd status code),
``endless_continue``, ``huge_head``, ``endless_body``, ``gzip_bomb`` and, for SMTP,
``endless_reply``. Every behaviour stops as soon as the client closes the connection or the
server is stopped, so no test leaves a thread writing.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from types import TracebackType

__all__ = [
    "Behaviour",
    "HostileServer",
    "Peer",
    "canned",
    "endless_body",
    "endless_continue",
    "endless_reply",
    "gzip_bomb",
    "huge_head",
    "negative_chunk",
    "negative_content_length",
    "status",
    "trickle",
]


class Gone(Exception):
    """The client closed the connection (or the server is stopping)."""


class Peer:
    """One accepted connection, as a behaviour sees it."""

    def __init__(self, sock: socket.socket, stopping: threading.Event) -> None:
        self.sock = sock
        self._stopping = stopping
        self._buffer = b""

    def read_request(self) -> bytes:
        """The next request (head and ``Content-Length`` body); ``Gone`` when closed."""
        while b"\r\n\r\n" not in self._buffer:
            self._recv()
        head, _, rest = self._buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            self._buffer = head + b"\r\n\r\n" + rest
            self._recv()
            head, _, rest = self._buffer.partition(b"\r\n\r\n")
        self._buffer = rest[length:]
        return head + b"\r\n\r\n" + rest[:length]

    def read_line(self) -> bytes:
        """The next CRLF-terminated line (an SMTP command); ``Gone`` when closed."""
        while b"\r\n" not in self._buffer:
            self._recv()
        line, _, self._buffer = self._buffer.partition(b"\r\n")
        return line

    def _recv(self) -> None:
        while True:
            if self._stopping.is_set():
                raise Gone()
            self.sock.settimeout(0.1)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                raise Gone() from None
            if not chunk:
                raise Gone()
            self._buffer += chunk
            return

    def send(self, data: bytes) -> None:
        """Send ``data``; ``Gone`` once the client has closed the connection."""
        if self._stopping.is_set():
            raise Gone()
        try:
            self.sock.settimeout(5.0)
            self.sock.sendall(data)
        except OSError:
            raise Gone() from None

    def pause(self, seconds: float) -> None:
        """Wait ``seconds``; ``Gone`` early if the client closes or the server stops."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if self._stopping.wait(min(left, 0.05)):
                raise Gone()
            if self.client_closed():
                raise Gone()

    def client_closed(self) -> bool:
        """Whether the client has closed its end (a pending EOF or reset)."""
        try:
            self.sock.settimeout(0)
            data = self.sock.recv(65536, socket.MSG_PEEK)
        except (BlockingIOError, TimeoutError):
            return False
        except OSError:
            return True
        return data == b""


Behaviour = Callable[[Peer], None]


# -- ready-made behaviours ------------------------------------------------------------
OK_RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def canned(response: bytes) -> Behaviour:
    """Answer every request with exactly ``response``."""

    def behaviour(peer: Peer) -> None:
        while True:
            peer.read_request()
            peer.send(response)

    return behaviour


def trickle(
    interval: float,
    response: bytes = OK_RESPONSE * 10_000,
    *,
    prefix: bytes = b"",
    request: bool = True,
) -> Behaviour:
    """Send ``prefix`` at once, then ``response`` one byte every ``interval`` seconds (just
    under the client's socket timeout): each ``recv`` succeeds, so only a deadline for the
    whole request ends it. ``request=False`` starts at once (an SMTP greeting)."""

    def behaviour(peer: Peer) -> None:
        if request:
            peer.read_request()
        if prefix:
            peer.send(prefix)
        for byte in response:
            peer.send(bytes([byte]))
            peer.pause(interval)

    return behaviour


def negative_chunk(size: int = 64 * 1024, chunks: int = 8) -> Behaviour:
    """A chunked body whose sizes alternate between ``-N`` and ``N`` hex: a parser that
    trusts ``int(line, 16)`` lowers its running total and reads past its cap."""
    data = b"x" * size
    body = f"-{size:x}\r\n".encode() + data + b"\r\n" + f"{size:x}\r\n".encode() + data + b"\r\n"
    response = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body * chunks + b"0\r\n\r\n"
    )
    return canned(response)


def negative_content_length(value: bytes = b"-5") -> Behaviour:
    """A ``Content-Length`` that is negative (or any other malformed ``value``)."""
    return canned(b"HTTP/1.1 200 OK\r\nContent-Length: " + value + b"\r\n\r\nhello")


def status(code: bytes) -> Behaviour:
    """A status line with ``code`` as its status (``4294967296``, ``-1``, ``99``…)."""
    return canned(b"HTTP/1.1 " + code + b" Whatever\r\nContent-Length: 2\r\n\r\nok")


def endless_continue(interval: float = 0.0) -> Behaviour:
    """``100 Continue`` after ``100 Continue``, never a final answer."""

    def behaviour(peer: Peer) -> None:
        peer.read_request()
        while True:
            peer.send(b"HTTP/1.1 100 Continue\r\n\r\n")
            if interval:
                peer.pause(interval)

    return behaviour


def huge_head(line_bytes: int = 1000) -> Behaviour:
    """A status line, then header lines forever, as fast as the client takes them."""

    def behaviour(peer: Peer) -> None:
        peer.read_request()
        peer.send(b"HTTP/1.1 200 OK\r\n")
        line = b"X-Filler: " + b"a" * line_bytes + b"\r\n"
        while True:
            peer.send(line * 64)

    return behaviour


def endless_body() -> Behaviour:
    """A body without length or chunking (read to close) that never ends."""

    def behaviour(peer: Peer) -> None:
        peer.read_request()
        peer.send(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        block = b"z" * 65536
        while True:
            peer.send(block)

    return behaviour


def gzip_bomb(megabytes: int = 64) -> Behaviour:
    """A small gzip body that inflates to ``megabytes`` MiB (beyond the body cap)."""
    packed = gzip.compress(b"\0" * (megabytes * 1024 * 1024), compresslevel=9)
    return canned(
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Encoding: gzip\r\n"
        + f"Content-Length: {len(packed)}\r\n\r\n".encode()
        + packed
    )


def endless_reply(code: bytes = b"220") -> Behaviour:
    """An SMTP server whose greeting is a multi-line reply that never ends."""

    def behaviour(peer: Peer) -> None:
        line = code + b"-" + b"h" * 500 + b"\r\n"
        while True:
            peer.send(line * 64)

    return behaviour


# -- the server -----------------------------------------------------------------------
class HostileServer:
    """Serves ``behaviour`` to every connection; records connections and when the client
    hung up (the moment a client's deadline ended the request)."""

    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.connections = 0
        self.closed_at: list[float] = []
        """``time.monotonic()`` when each connection ended, client or server side."""
        self.closed_by_client = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self.port: int = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> HostileServer:
        self._acceptor.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._acceptor.join(timeout=5)
        for thread in self._threads:
            thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> HostileServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        peer = Peer(conn, self._stopping)
        with conn:
            try:
                self.behaviour(peer)
            except Gone:
                if not self._stopping.is_set():
                    self.closed_by_client.set()
            finally:
                with self._lock:
                    self.closed_at.append(time.monotonic())


@contextlib.contextmanager
def serving(behaviour: Behaviour) -> Iterator[HostileServer]:
    """``HostileServer(behaviour)`` for the block."""
    with HostileServer(behaviour) as server:
        yield server
