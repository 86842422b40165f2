"""HTTP/1.1 on one socket, as the lean transport speaks it: within a deadline and caps.

Everything a receiver sends is untrusted, so this module reads it strictly:

- **One deadline per request.** Every socket operation gets the time left until the
  request's deadline as its timeout (never more than the per-operation timeout), and an
  operation that would start after the deadline raises ``TimeoutError`` at once. A server
  that sends one byte just before each timeout, or an endless stream of ``100 Continue``,
  therefore ends the request at its deadline, not never.
- **Strict framing.** A status code is three digits from 100 to 599; ``Content-Length`` is
  digits only (and one value); a chunk size is hex digits only. Anything else is an
  ``httpx.RemoteProtocolError``, so no sign, space or underscore that ``int()`` would
  accept can turn into a negative size that lowers a running total.
- **Caps.** A head over ``MAX_HEAD_BYTES``, a body over ``MAX_BODY_BYTES`` (after
  decompression too) or more than ``MAX_INTERIM_RESPONSES`` 1xx answers is a protocol
  error, so a receiver cannot grow a worker without bound.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import time
import zlib

import httpx

MAX_HEAD_BYTES = 64 * 1024
"""A response head (status line and headers) larger than this is a protocol error."""
MAX_BODY_BYTES = 16 * 1024 * 1024
"""A response body larger than this is a protocol error; destinations answer briefly."""
MAX_INTERIM_RESPONSES = 16
"""More interim (1xx) answers than this before the final one is a protocol error."""
_RECV_SIZE = 65_536

_STATUS = re.compile(rb"[1-5][0-9][0-9]")
_DIGITS = re.compile(rb"[0-9]{1,18}")
_CHUNK_SIZE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(?:;.*)?")
Headers = list[tuple[bytes, bytes]]


def time_left(deadline: float | None, per_operation: float | None) -> float | None:
    """The timeout for the next socket operation; ``TimeoutError`` once the deadline passed."""
    if deadline is None:
        return per_operation
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError("the request's deadline passed")
    return remaining if per_operation is None else min(per_operation, remaining)


def send_all(
    sock: socket.socket, data: bytes, deadline: float | None, per_operation: float | None
) -> None:
    """``sendall`` within the deadline (``SSLSocket.sendall`` would restart the timeout for
    every piece, so a receiver reading slowly could stretch it)."""
    view = memoryview(data)
    while view:
        sock.settimeout(time_left(deadline, per_operation))
        sent = sock.send(view)
        view = view[sent:]


class Closed(Exception):
    """The server closed the connection before sending a response head."""


class Connection:
    """One keep-alive socket, the bytes read past the last response, and the deadline and
    read timeout of the request in progress."""

    __slots__ = ("buffer", "deadline", "read_timeout", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.deadline: float | None = None
        self.read_timeout: float | None = None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()

    def stale(self) -> bool:
        """A pooled socket that reads as ready was closed (or spoke out of turn)."""
        if self.buffer:
            return True
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    # -- reading -------------------------------------------------------------------
    def _fill(self) -> bool:
        self.sock.settimeout(time_left(self.deadline, self.read_timeout))
        chunk = self.sock.recv(_RECV_SIZE)
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def read_head(self) -> bytes:
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                if end > MAX_HEAD_BYTES:
                    raise httpx.RemoteProtocolError("response head larger than 64 KiB")
                head = bytes(self.buffer[:end])
                del self.buffer[: end + 4]
                return head
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise httpx.RemoteProtocolError("response head larger than 64 KiB")
            if not self._fill():
                raise Closed()

    def read_exactly(self, size: int) -> bytes:
        if size < 0:
            raise httpx.RemoteProtocolError(f"negative body size {size}")
        if size > MAX_BODY_BYTES:
            raise httpx.RemoteProtocolError("response body larger than 16 MiB")
        while len(self.buffer) < size:
            if not self._fill():
                raise httpx.RemoteProtocolError(
                    f"connection closed after {len(self.buffer)} of {size} body bytes"
                )
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def read_line(self) -> bytes:
        while True:
            end = self.buffer.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buffer[:end])
                del self.buffer[: end + 2]
                return line
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise httpx.RemoteProtocolError("chunk header line too long")
            if not self._fill():
                raise httpx.RemoteProtocolError("connection closed inside a chunked body")

    def read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        trailer_bytes = 0
        while True:
            line = self.read_line()
            match = _CHUNK_SIZE.fullmatch(line)
            if match is None:
                raise httpx.RemoteProtocolError(f"bad chunk size line {line[:40]!r}")
            size = int(match.group(1), 16)
            if size == 0:
                while trailer := self.read_line():  # trailers, up to the empty line
                    trailer_bytes += len(trailer) + 2
                    if trailer_bytes > MAX_HEAD_BYTES:
                        raise httpx.RemoteProtocolError("chunked trailers larger than 64 KiB")
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                raise httpx.RemoteProtocolError("response body larger than 16 MiB")
            parts.append(self.read_exactly(size))
            if self.read_exactly(2) != b"\r\n":
                raise httpx.RemoteProtocolError("chunk not followed by CRLF")

    def read_to_close(self) -> bytes:
        while self._fill():
            if len(self.buffer) > MAX_BODY_BYTES:
                raise httpx.RemoteProtocolError("response body larger than 16 MiB")
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def parse_head(head: bytes) -> tuple[bytes, int, bytes, Headers]:
    """``(version, status, reason, headers)`` of a response head; only 100-599 is a status."""
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise httpx.RemoteProtocolError(f"not an HTTP response: {lines[0][:60]!r}")
    if not _STATUS.fullmatch(parts[1]):
        raise httpx.RemoteProtocolError(
            f"status code {parts[1][:20].decode('latin-1')!r} is not one from 100 to 599"
        )
    headers: Headers = []
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t") and headers:  # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, value + b" " + line.strip())
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise httpx.RemoteProtocolError(f"bad header line {line[:60]!r}")
        headers.append((name, value.strip()))
    return parts[0], int(parts[1]), parts[2] if len(parts) > 2 else b"", headers


def read_final_head(conn: Connection) -> tuple[bytes, int, bytes, Headers]:
    """The first non-interim response head (``100 Continue`` and ``103`` skipped, a few)."""
    for _ in range(MAX_INTERIM_RESPONSES + 1):
        version, status, reason, headers = parse_head(conn.read_head())
        if not (100 <= status < 200 and status != 101):
            return version, status, reason, headers
    raise httpx.RemoteProtocolError(
        f"more than {MAX_INTERIM_RESPONSES} interim (1xx) responses without a final one"
    )


def _content_length(value: bytes, previous: int | None) -> int:
    if not _DIGITS.fullmatch(value):
        raise httpx.RemoteProtocolError(f"bad Content-Length {value[:40]!r}")
    length = int(value)
    if previous is not None and previous != length:
        raise httpx.RemoteProtocolError("conflicting Content-Length headers")
    return length


def read_body(
    conn: Connection, method: str, version: bytes, status: int, headers: Headers
) -> tuple[bytes, bool]:
    """The response body and whether the connection may be reused."""
    length: int | None = None
    chunked = False
    connection = b""
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-length":
            length = _content_length(value, length)
        elif lowered == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif lowered == b"connection":
            connection = value.lower()
    keep_alive = (
        b"keep-alive" in connection if version == b"HTTP/1.0" else b"close" not in connection
    )
    if method == "HEAD" or status in (204, 304):
        return b"", keep_alive
    if chunked:
        return conn.read_chunked(), keep_alive
    if length is not None:
        return conn.read_exactly(length), keep_alive
    return conn.read_to_close(), False


def decode_body(body: bytes, headers: Headers) -> tuple[bytes, Headers]:
    """The body inflated (gzip, deflate) within ``MAX_BODY_BYTES``, and the headers without
    ``Content-Encoding``, so httpx never inflates a body itself: a small compressed body
    can expand a thousandfold. Encodings this client does not ask for stay as they came."""
    codings = [
        coding.strip().lower()
        for name, value in headers
        if name.lower() == b"content-encoding"
        for coding in value.split(b",")
    ]
    codings = [c for c in codings if c and c != b"identity"]
    if not codings:
        return body, headers
    headers = [(name, value) for name, value in headers if name.lower() != b"content-encoding"]
    if any(c not in (b"gzip", b"x-gzip", b"deflate") for c in codings):
        return body, headers
    for coding in reversed(codings):
        body = _inflate(body, zlib.MAX_WBITS | 16 if coding != b"deflate" else zlib.MAX_WBITS)
    return body, headers


def _inflate(data: bytes, wbits: int) -> bytes:
    try:
        out = zlib.decompressobj(wbits).decompress(data, MAX_BODY_BYTES + 1)
    except zlib.error:
        if wbits != zlib.MAX_WBITS:
            raise httpx.RemoteProtocolError("response body is not valid gzip or deflate") from None
        return _inflate(data, -zlib.MAX_WBITS)  # "deflate" sent raw, as some servers do
    if len(out) > MAX_BODY_BYTES:
        raise httpx.RemoteProtocolError("response body larger than 16 MiB once decompressed")
    return out
