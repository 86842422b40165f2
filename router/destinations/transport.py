"""The HTTP seam beneath ``ctx.http``: a lean keep-alive transport and a cookie-less client.

Adapters keep httpx's API (``ctx.http.request(...)``, ``httpx.Response``, httpx's
exceptions); only what runs beneath it changes. Measured on the 2-core dev machine with
``python -m bench.clients`` (one thread, keep-alive, local receiver), CPU per request:
``httpx.Client`` over its default transport (httpcore + h11) ≈0.50 ms, over this one
≈0.25 ms, and ``WebhookClient`` over it ≈0.16 ms (``http.client`` alone ≈0.13 ms; see
bench/RESULTS.md). At thousands of deliveries a second that difference is most of a
core, and this machine has two.

Why it is cheaper: one ``sendall`` per request (head and body together, so Nagle never
delays a body), one ``recv`` per response in the common case, and a response parser
that handles only HTTP/1.1's framing (``Content-Length``, ``chunked``, read-to-close,
interim 1xx) instead of ``email.parser``.

What it does not do, by design: HTTP/2, proxies (the SSRF guard pins every connection to
the checked address, so httpx's transport did not use them either), and retries. Like
httpcore it never resends a request: an idle pooled connection that reads as ready
(closed by the server) is dropped *before* it is reused.
"""

from __future__ import annotations

import contextlib
import re
import select
import socket
import ssl
import threading
from collections.abc import Callable, Sequence
from typing import Any

import certifi
import httpx

from eventrouter.router.netguard import IPNetwork, check_host

MAX_HEAD_BYTES = 64 * 1024
"""A response head (status line and headers) larger than this is a protocol error."""
MAX_BODY_BYTES = 16 * 1024 * 1024
"""A response body larger than this is a protocol error; destinations answer briefly."""
DEFAULT_MAX_IDLE_PER_HOST = 32
_RECV_SIZE = 65_536


def default_ssl_context() -> ssl.SSLContext:
    """Verify certificates against certifi's bundle, as httpx does by default."""
    return ssl.create_default_context(cafile=certifi.where())


class _Connection:
    """One keep-alive socket and the bytes read past the last response."""

    __slots__ = ("buffer", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

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
        chunk = self.sock.recv(_RECV_SIZE)
        if not chunk:
            return False
        self.buffer += chunk
        return True

    def read_head(self) -> bytes:
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(self.buffer[:end])
                del self.buffer[: end + 4]
                return head
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise httpx.RemoteProtocolError("response head larger than 64 KiB")
            if not self._fill():
                raise _Closed()

    def read_exactly(self, size: int) -> bytes:
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
        while True:
            line = self.read_line()
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise httpx.RemoteProtocolError(f"bad chunk size line {line[:40]!r}") from None
            if size == 0:
                while self.read_line():  # trailers, up to the empty line
                    pass
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


class _Closed(Exception):
    """The server closed the connection before sending a response head."""


def _parse_head(head: bytes) -> tuple[bytes, int, bytes, list[tuple[bytes, bytes]]]:
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise httpx.RemoteProtocolError(f"not an HTTP response: {lines[0][:60]!r}")
    try:
        status = int(parts[1])
    except ValueError:
        raise httpx.RemoteProtocolError(f"bad status line {lines[0][:60]!r}") from None
    headers: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t") and headers:  # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, value + b" " + line.strip())
            continue
        name, sep, value = line.partition(b":")
        if not sep or not name or name != name.strip():
            raise httpx.RemoteProtocolError(f"bad header line {line[:60]!r}")
        headers.append((name, value.strip()))
    return parts[0], status, parts[2] if len(parts) > 2 else b"", headers


_FORBIDDEN_IN_HEADERS = re.compile(rb"[\r\n\0]")
_FORBIDDEN_IN_NAMES = re.compile(rb"[\r\n\0:]")


class LeanHTTPTransport(httpx.BaseTransport):
    """``httpx.BaseTransport`` over pooled keep-alive sockets; HTTP/1.1 only; thread-safe."""

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        max_idle_per_host: int = DEFAULT_MAX_IDLE_PER_HOST,
        addresses_for: Callable[[str, int], Sequence[str]] | None = None,
    ) -> None:
        """``addresses_for(host, port)`` gives (or refuses, by raising) the addresses a new
        connection may go to, tried in order: the hook for the SSRF guard, which resolves,
        checks and pins (``workers.netguard``). TLS still verifies against the host name."""
        self._addresses_for = addresses_for
        self._ssl_context = ssl_context
        self._max_idle = max_idle_per_host
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._lock = threading.Lock()
        self._closed = False

    # -- pool --------------------------------------------------------------------------
    def _checkout(self, key: tuple[str, str, int]) -> _Connection | None:
        while True:
            with self._lock:
                idle = self._idle.get(key)
                conn = idle.pop() if idle else None
            if conn is None or not conn.stale():
                return conn
            conn.close()

    def _checkin(self, key: tuple[str, str, int], conn: _Connection) -> None:
        with self._lock:
            if not self._closed:
                idle = self._idle.setdefault(key, [])
                if len(idle) < self._max_idle:
                    idle.append(conn)
                    return
        conn.close()

    def _connect(
        self, request: httpx.Request, key: tuple[str, str, int], timeout: float | None
    ) -> _Connection:
        scheme, host, port = key
        addresses: Sequence[str] = (host,)
        if self._addresses_for is not None:
            try:
                addresses = self._addresses_for(host, port)
            except Exception as exc:  # the guard's refusal stays the __cause__
                raise httpx.ConnectError(str(exc), request=request) from exc
        sock = self._dial(request, addresses, port, host, timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                if self._ssl_context is None:
                    self._ssl_context = default_ssl_context()
                sock = self._ssl_context.wrap_socket(sock, server_hostname=host)
        except TimeoutError as exc:
            sock.close()
            raise httpx.ConnectTimeout(
                f"TLS handshake with {host} timed out", request=request
            ) from exc
        except (OSError, ssl.SSLError) as exc:
            sock.close()
            raise httpx.ConnectError(
                f"TLS handshake with {host} failed: {exc}", request=request
            ) from exc
        return _Connection(sock)

    @staticmethod
    def _dial(
        request: httpx.Request,
        addresses: Sequence[str],
        port: int,
        host: str,
        timeout: float | None,
    ) -> socket.socket:
        """A connection to the first of ``addresses`` that answers (dual-stack hosts)."""
        error: httpx.TransportError | None = None
        for address in addresses:
            try:
                return socket.create_connection((address, port), timeout=timeout)
            except TimeoutError as exc:
                error = httpx.ConnectTimeout(
                    f"timed out connecting to {host}:{port}", request=request
                )
                error.__cause__ = exc
            except OSError as exc:
                error = httpx.ConnectError(
                    f"{exc.strerror or exc} ({host}:{port})", request=request
                )
                error.__cause__ = exc
        raise error or httpx.ConnectError(f"{host} has no address", request=request)

    # -- one request -------------------------------------------------------------------
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        scheme = url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}", request=request)
        key = (scheme, url.host, url.port or (443 if scheme == "https" else 80))
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        message = _serialise(request)
        conn = self._checkout(key)
        if conn is None:
            conn = self._connect(request, key, timeouts.get("connect"))
        sock = conn.sock
        try:
            sock.settimeout(timeouts.get("write"))
            sock.sendall(message)
            sock.settimeout(timeouts.get("read"))
            while True:
                version, status, reason, headers = _parse_head(conn.read_head())
                if 100 <= status < 200 and status != 101:
                    continue  # interim response (100 Continue, 103 Early Hints)
                break
            body, keep_alive = _read_body(conn, request.method, version, status, headers)
        except TimeoutError as exc:
            conn.close()
            raise httpx.ReadTimeout(f"timed out waiting for {url.host}", request=request) from exc
        except _Closed:
            conn.close()
            raise httpx.RemoteProtocolError(
                "server closed the connection without sending a response", request=request
            ) from None
        except httpx.RemoteProtocolError as exc:
            conn.close()
            exc.request = request
            raise
        except OSError as exc:
            conn.close()
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}", request=request) from exc
        except BaseException:
            conn.close()
            raise
        if keep_alive:
            self._checkin(key, conn)
        else:
            conn.close()
        return httpx.Response(
            status,
            headers=headers,
            content=body,
            extensions={"http_version": version, "reason_phrase": reason},
            request=request,
        )

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pools = list(self._idle.values())
            self._idle.clear()
        for idle in pools:
            for conn in idle:
                conn.close()


def _serialise(request: httpx.Request) -> bytes:
    body = request.read()
    lines = [request.method.encode("ascii"), b" ", request.url.raw_path, b" HTTP/1.1\r\n"]
    chunked = False
    raw = request.headers.raw
    for name, value in raw:
        if name.lower() == b"transfer-encoding" and value.lower() == b"chunked":
            chunked = True
        lines += (name, b": ", value, b"\r\n")
    # One scan for the whole header block: a CR, LF or NUL would inject a header.
    if _FORBIDDEN_IN_NAMES.search(b"\x01".join(n for n, _ in raw)) or _FORBIDDEN_IN_HEADERS.search(
        b"\x01".join(v for _, v in raw)
    ):
        bad = next(
            n for n, v in raw if _FORBIDDEN_IN_NAMES.search(n) or _FORBIDDEN_IN_HEADERS.search(v)
        )
        raise httpx.LocalProtocolError(f"invalid header {bad!r}", request=request)
    lines.append(b"\r\n")
    if chunked:  # a streamed body was read whole above: send it as one chunk
        if body:
            lines += (f"{len(body):x}\r\n".encode(), body, b"\r\n")
        lines.append(b"0\r\n\r\n")
    else:
        lines.append(body)
    return b"".join(lines)


def _read_body(
    conn: _Connection,
    method: str,
    version: bytes,
    status: int,
    headers: list[tuple[bytes, bytes]],
) -> tuple[bytes, bool]:
    """The response body and whether the connection may be reused."""
    length: int | None = None
    chunked = False
    connection = b""
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"content-length":
            try:
                length = int(value)
            except ValueError:
                raise httpx.RemoteProtocolError(f"bad Content-Length {value[:40]!r}") from None
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
        if length > MAX_BODY_BYTES:
            raise httpx.RemoteProtocolError("response body larger than 16 MiB")
        return conn.read_exactly(length), keep_alive
    return conn.read_to_close(), False


class WebhookClient(httpx.Client):
    """An ``httpx.Client`` that keeps no cookies and parses each URL once.

    A delivery must not carry cookies one endpoint set into later requests, and skipping
    httpx's cookie jar (built on ``http.cookiejar``) saves about a quarter of the client's
    own CPU per request. (``_merge_url`` is httpx-internal; httpx is pinned below 0.29.)
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._no_cookies = _NoCookies()
        self._urls: dict[str, httpx.URL] = {}

    def _merge_url(self, url: httpx.URL | str) -> httpx.URL:
        """Parsed URLs are kept (they are immutable): a destination's URL is parsed once,
        not per request — that parse was ≈9% of a worker's CPU (py-spy, bench/)."""
        if not isinstance(url, str):
            return super()._merge_url(url)
        merged = self._urls.get(url)
        if merged is None:
            merged = super()._merge_url(url)
            if len(self._urls) >= 1024:
                self._urls.clear()
            self._urls[url] = merged
        return merged

    @property
    def cookies(self) -> httpx.Cookies:
        return self._no_cookies

    @cookies.setter
    def cookies(self, value: Any) -> None:
        pass


class _NoCookies(httpx.Cookies):
    def extract_cookies(self, response: httpx.Response) -> None:
        pass

    def set_cookie_header(self, request: httpx.Request) -> None:
        pass


def http_client(timeout: float, *, allowed: Sequence[IPNetwork] | None = None) -> httpx.Client:
    """The worker's shared client. With ``allowed`` (the networks allowed besides public
    ones), every new connection first goes through the SSRF guard, which resolves the host,
    refuses internal addresses and pins the connection to the checked ones."""
    guard = None
    if allowed is not None:
        networks = tuple(allowed)

        def guard(host: str, port: int) -> list[str]:
            return [str(address) for address in check_host(host, port, networks)]

    return WebhookClient(
        transport=LeanHTTPTransport(addresses_for=guard), follow_redirects=False, timeout=timeout
    )
