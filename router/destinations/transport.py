"""The HTTP seam beneath ``ctx.http``: a lean keep-alive transport and a cookie-less client.

Adapters keep httpx's API (``ctx.http.request(...)``, ``httpx.Response``, httpx's
exceptions); only what runs beneath it changes. It exists because the client's CPU per
request is the main lever on a worker's throughput: httpx's default transport (httpcore +
h11) costs about twice as much per request as this one (``python -m bench.clients``;
figures in bench/RESULTS.md), and this machine class has two cores.

Why it is cheaper: one ``sendall`` per request (head and body together, so Nagle never
delays a body), one ``recv`` per response in the common case, and a response parser
that handles only HTTP/1.1's framing (``Content-Length``, ``chunked``, read-to-close,
interim 1xx) instead of ``email.parser``.

Why it is safe against a hostile receiver: every request has one **deadline**, its
timeout counted from the start (connect, TLS, write and read together), checked before
every socket operation, so a server trickling one byte just before each socket timeout
cannot hold a worker longer than that; framing is parsed strictly (hex digits only in
chunk sizes, digits only in ``Content-Length``, status codes 100-599 only); and nothing a
server sends can grow a worker past ``MAX_HEAD_BYTES`` and ``MAX_BODY_BYTES`` — a
compressed body included, which is inflated here within the cap rather than by httpx.

What it does not do, by design: HTTP/2, proxies (the SSRF guard pins every connection to
the checked address, so httpx's transport did not use them either), and retries. Like
httpcore it never resends a request: an idle pooled connection that reads as ready
(closed by the server) is dropped *before* it is reused.
"""

from __future__ import annotations

import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import certifi
import httpx

from eventrouter.router.destinations.http11 import (
    MAX_BODY_BYTES,
    MAX_HEAD_BYTES,
    Closed,
    Connection,
    Headers,
    decode_body,
    read_body,
    read_final_head,
    send_all,
    time_left,
)
from eventrouter.router.destinations.reply import Answer, Reply
from eventrouter.router.netguard import IPNetwork, check_host

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_HEAD_BYTES",
    "LeanHTTPTransport",
    "WebhookClient",
    "default_ssl_context",
    "http_client",
]

DEFAULT_MAX_IDLE_PER_HOST = 32
ACCEPT_ENCODING = "gzip, deflate"
"""What the client accepts: the codings ``http11.decode_body`` inflates within the cap."""


def default_ssl_context() -> ssl.SSLContext:
    """Verify certificates against certifi's bundle, as httpx does by default."""
    return ssl.create_default_context(cafile=certifi.where())


def request_budget(timeouts: dict[str, float | None]) -> float | None:
    """The whole request's time limit: the longest of its connect, write and read timeouts
    (a destination's ``timeout`` sets all three), ``None`` when none is set."""
    given = [t for t in (timeouts.get(k) for k in ("connect", "write", "read")) if t is not None]
    return max(given) if given else None


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
        checks and pins (``router.netguard``). TLS still verifies against the host name."""
        self._addresses_for = addresses_for
        self._ssl_context = ssl_context
        self._max_idle = max_idle_per_host
        self._idle: dict[tuple[str, str, int], list[Connection]] = {}
        self._lock = threading.Lock()
        self._closed = False

    # -- pool --------------------------------------------------------------------------
    def _checkout(self, key: tuple[str, str, int]) -> Connection | None:
        while True:
            with self._lock:
                idle = self._idle.get(key)
                conn = idle.pop() if idle else None
            if conn is None or not conn.stale():
                return conn
            conn.close()

    def _checkin(self, key: tuple[str, str, int], conn: Connection) -> None:
        with self._lock:
            if not self._closed:
                idle = self._idle.setdefault(key, [])
                if len(idle) < self._max_idle:
                    idle.append(conn)
                    return
        conn.close()

    def _connect(
        self,
        request: httpx.Request | None,
        key: tuple[str, str, int],
        timeout: float | None,
        deadline: float | None,
    ) -> Connection:
        scheme, host, port = key
        addresses: Sequence[str] = (host,)
        if self._addresses_for is not None:
            try:
                addresses = self._addresses_for(host, port)
            except Exception as exc:  # the guard's refusal stays the __cause__
                raise httpx.ConnectError(str(exc), request=request) from exc
        sock = self._dial(request, addresses, port, host, timeout, deadline)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                if self._ssl_context is None:
                    self._ssl_context = default_ssl_context()
                # The handshake as a whole is bounded by the socket's timeout (CPython
                # counts one deadline across its reads), here the time left.
                sock.settimeout(time_left(deadline, timeout))
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
        return Connection(sock)

    @staticmethod
    def _dial(
        request: httpx.Request | None,
        addresses: Sequence[str],
        port: int,
        host: str,
        timeout: float | None,
        deadline: float | None,
    ) -> socket.socket:
        """A connection to the first of ``addresses`` that answers (dual-stack hosts)."""
        error: httpx.TransportError | None = None
        for address in addresses:
            try:
                return socket.create_connection(
                    (address, port), timeout=time_left(deadline, timeout)
                )
            except TimeoutError as exc:
                error = httpx.ConnectTimeout(
                    f"timed out connecting to {host}:{port}", request=request
                )
                error.__cause__ = exc
                if deadline is not None and time.monotonic() >= deadline:
                    break
            except OSError as exc:
                error = httpx.ConnectError(
                    f"{exc.strerror or exc} ({host}:{port})", request=request
                )
                error.__cause__ = exc
        raise error or httpx.ConnectError(f"{host} has no address", request=request)

    # -- one request -------------------------------------------------------------------
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        began = time.monotonic()  # serialising a large body counts against the deadline
        key = _pool_key(request.url, request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        version, status, reason, headers, body = self.exchange(
            key,
            _serialise(request),
            method=request.method,
            connect=timeouts.get("connect"),
            write=timeouts.get("write"),
            read=timeouts.get("read"),
            request=request,
            began=began,
        )
        return httpx.Response(
            status,
            headers=headers,
            content=body,
            extensions={"http_version": version, "reason_phrase": reason},
            request=request,
        )

    def exchange(
        self,
        key: tuple[str, str, int],
        message: bytes,
        *,
        method: str,
        connect: float | None,
        write: float | None,
        read: float | None,
        request: httpx.Request | None = None,
        began: float | None = None,
    ) -> tuple[bytes, int, bytes, Headers, bytes]:
        """Send ``message`` (a whole serialised request) to ``key``'s origin and read the
        answer: ``(version, status, reason, headers, body)``, the body inflated.

        One deadline bounds connect, TLS, write and every read: the longest of the three
        timeouts, counted from ``began`` (monotonic; now by default). Failures are httpx's
        exceptions; ``request`` (when there is one) rides on them."""
        budget = request_budget({"connect": connect, "write": write, "read": read})
        if began is None:
            began = time.monotonic()
        deadline = None if budget is None else began + budget
        conn = self._checkout(key)
        if conn is None:
            conn = self._connect(request, key, connect, deadline)
        conn.deadline, conn.read_timeout = deadline, read
        host = key[1]
        writing = True
        try:
            send_all(conn.sock, message, deadline, write)
            writing = False
            version, status, reason, headers = read_final_head(conn)
            body, keep_alive = read_body(conn, method, version, status, headers)
            body, headers = decode_body(body, headers)
        except TimeoutError as exc:
            conn.close()
            late = f"{budget:g}s" if budget is not None else "its timeout"
            if writing:
                raise httpx.WriteTimeout(
                    f"timed out sending to {host} (limit {late})", request=request
                ) from exc
            raise httpx.ReadTimeout(
                f"no complete answer from {host} within {late}", request=request
            ) from exc
        except Closed:
            conn.close()
            raise httpx.RemoteProtocolError(
                "server closed the connection without sending a response", request=request
            ) from None
        except httpx.RemoteProtocolError as exc:
            conn.close()
            if request is not None:
                exc.request = request
            raise
        except OSError as exc:
            conn.close()
            error = httpx.WriteError if writing else httpx.ReadError
            raise error(f"{type(exc).__name__}: {exc}", request=request) from exc
        except BaseException:
            conn.close()
            raise
        if keep_alive:
            self._checkin(key, conn)
        else:
            conn.close()
        return version, status, reason, headers, body

    def close(self) -> None:
        with self._lock:
            self._closed = True
            pools = list(self._idle.values())
            self._idle.clear()
        for idle in pools:
            for conn in idle:
                conn.close()


def _pool_key(url: httpx.URL, request: httpx.Request | None = None) -> tuple[str, str, int]:
    """``(scheme, host, port)``: the origin a pooled connection serves."""
    scheme = url.scheme
    if scheme not in ("http", "https"):
        raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}", request=request)
    return scheme, url.host, url.port or (443 if scheme == "https" else 80)


def _serialise(request: httpx.Request) -> bytes:
    return serialise(
        request.method, request.url.raw_path, request.headers.raw, request.read(), request
    )


def serialise(
    method: str,
    target: bytes,
    raw: Sequence[tuple[bytes, bytes]],
    body: bytes,
    request: httpx.Request | None = None,
) -> bytes:
    """The request as sent: head and body in one ``bytes``, so one ``sendall`` carries it."""
    lines = [method.encode("ascii"), b" ", target, b" HTTP/1.1\r\n"]
    chunked = False
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


class WebhookClient(httpx.Client):
    """An ``httpx.Client`` that keeps no cookies and parses each URL once.

    A delivery must not carry cookies one endpoint set into later requests, and skipping
    httpx's cookie jar (built on ``http.cookiejar``) saves about a quarter of the client's
    own CPU per request. (``_merge_url`` is httpx-internal; httpx is pinned below 0.29.)
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.headers["accept-encoding"] = ACCEPT_ENCODING
        self._no_cookies = _NoCookies()
        self._urls: dict[str, httpx.URL] = {}
        self._targets: dict[str, tuple[tuple[str, str, int], bytes, bytes]] = {}

    def send_bytes(
        self,
        method: str,
        url: str,
        *,
        content: bytes,
        headers: Mapping[str, str],
        timeout: float,
    ) -> Answer:
        """``request(method, url, content=..., headers=..., timeout=...)`` straight to the lean
        transport: the same bytes on the wire (this client's default headers under the given
        ones, then ``Host`` and ``Content-Length``), the same httpx exceptions, but no
        ``httpx.Request`` and no ``httpx.Response`` built around it — that machinery cost
        more CPU than the exchange itself. Falls back to ``request`` for anything a plain
        call to the lean transport would not honour (hooks, auth, mounts, another transport).
        """
        began = time.monotonic()
        transport = self._transport
        if (
            not isinstance(transport, LeanHTTPTransport)
            or self._mounts
            or self.auth is not None
            or any(self._event_hooks.values())
        ):
            return self.request(method, url, content=content, headers=headers, timeout=timeout)
        target = self._targets.get(url)
        if target is None:
            parsed = self._merge_url(url)
            target = (_pool_key(parsed), parsed.raw_path, parsed.netloc)
            if len(self._targets) >= 1024:
                self._targets.clear()
            self._targets[url] = target
        key, path, host = target
        # httpx encodes header names and values as ASCII too (UnicodeEncodeError otherwise).
        encoded = [(name.encode("ascii"), value.encode("ascii")) for name, value in headers.items()]
        given = {name.lower() for name, _ in encoded}
        raw = [] if b"host" in given else [(b"Host", host)]
        raw += [(name, value) for name, value in self.headers.raw if name.lower() not in given]
        raw += encoded
        if b"content-length" not in given:
            raw.append((b"Content-Length", str(len(content)).encode("ascii")))
        _, status, _, answer_headers, body = transport.exchange(
            key,
            serialise(method, path, raw, content),
            method=method,
            connect=timeout,
            write=timeout,
            read=timeout,
            began=began,
        )
        return Reply(status, answer_headers, body)

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
