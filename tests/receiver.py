"""A local HTTP receiver that stands in for webhook endpoints in tests and benchmarks.

    with Receiver(fail_first(2)) as rx:
        url = rx.url_for("/hook")
        ...
        wait_for(lambda: rx.count() >= 3, timeout=5)
        assert {r.webhook_id for r in rx.requests()} == {event_id}

It is a ``ThreadingHTTPServer`` speaking HTTP/1.1 with keep-alive on 127.0.0.1 and an
ephemeral port, served from a daemon thread. Every request is recorded (method, path,
headers, body, parsed JSON, time). What it answers is decided by a *behaviour*: a
callable ``(request, n) -> Response`` where ``n`` is how many times this request's
``webhook-id`` has been seen, this request included (1 on the first try). Ready-made
behaviours: ``always``, ``ok``, ``fail_first``, ``not_found``, ``gone``,
``rate_limited`` and ``slow``. All state is guarded by one lock, so tests can read it
while requests arrive.
"""

from __future__ import annotations

import contextlib
import json
import socket
import struct
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = [
    "Behaviour",
    "Receiver",
    "Request",
    "Response",
    "always",
    "fail_first",
    "gone",
    "not_found",
    "ok",
    "rate_limited",
    "slow",
    "wait_for",
]


@dataclass(frozen=True)
class Request:
    """One request as the receiver saw it."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names lower-cased; a repeated header keeps its last value."""
    raw_headers: list[tuple[str, str]]
    """Every header line as sent, in order (repeats included)."""
    body: bytes
    received_at: float
    """``time.time()`` when the request was fully read."""
    json: Any = None
    """The body parsed as JSON, or ``None`` when it is not JSON."""
    client: tuple[str, int] = ("", 0)
    """The client's (host, port): requests on one keep-alive connection share it."""

    @property
    def webhook_id(self) -> str | None:
        return self.headers.get("webhook-id")

    def header_values(self, name: str) -> list[str]:
        """Every value sent for header ``name`` (case-insensitive)."""
        lowered = name.lower()
        return [value for key, value in self.raw_headers if key.lower() == lowered]


@dataclass(frozen=True)
class Response:
    """What to answer. A dict or list body is sent as JSON."""

    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_seconds: float = 0.0
    """Wait this long before answering (cut short when the receiver stops)."""
    reset: bool = False
    """Answer nothing: close the connection with a TCP RST (a crashed or hostile peer)."""


Behaviour = Callable[[Request, int], Response]


# -- ready-made behaviours ------------------------------------------------------------
def always(
    status: int = 200, body: bytes | str | dict[str, Any] = b"", **headers: str
) -> Behaviour:
    """Answer every request with ``status``."""
    response = Response(status, body, headers)
    return lambda _request, _n: response


def ok() -> Behaviour:
    """Always 200."""
    return always(200, b"ok")


def fail_first(n: int, status: int = 503, then: int = 200) -> Behaviour:
    """Answer ``status`` to the first ``n`` tries of each webhook-id, then ``then``."""

    def behaviour(_request: Request, seen: int) -> Response:
        if seen <= n:
            return Response(status, f"try {seen} fails")
        return Response(then, "ok")

    return behaviour


def not_found() -> Behaviour:
    """Always 404."""
    return always(404, b"no such hook")


def gone() -> Behaviour:
    """Always 410 Gone."""
    return always(410, b"this endpoint was removed")


def rate_limited(retry_after: str | int = 30) -> Behaviour:
    """Always 429 with a ``Retry-After`` header."""
    return always(429, b"slow down", **{"Retry-After": str(retry_after)})


def slow(delay_seconds: float, status: int = 200) -> Behaviour:
    """Answer ``status`` after ``delay_seconds`` (longer than a client timeout, say)."""
    response = Response(status, b"late", delay_seconds=delay_seconds)
    return lambda _request, _n: response


# -- the server -----------------------------------------------------------------------
class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    receiver: Receiver

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # a sender that timed out, was killed or reset: expected in these tests
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server
    timeout = 60  # an idle keep-alive connection is dropped after this
    # Headers and body are two writes; with Nagle on, the body waits for the client's
    # delayed ACK (~40 ms) on every keep-alive request.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.server.receiver._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.receiver._track(self.connection, add=False)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        body = self._read_body()
        try:
            parsed = json.loads(body) if body else None
        except ValueError:
            parsed = None
        request = Request(
            method=self.command,
            path=self.path,
            headers={key.lower(): value for key, value in self.headers.items()},
            raw_headers=list(self.headers.items()),
            body=body,
            received_at=time.time(),
            json=parsed,
            client=(str(self.client_address[0]), int(self.client_address[1])),
        )
        response = self.server.receiver._answer(request)
        if response.delay_seconds > 0 and self.server.receiver._stopping.wait(
            response.delay_seconds
        ):
            self.close_connection = True
            return
        if response.reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        payload = response.body
        content_type = "text/plain; charset=utf-8"
        if isinstance(payload, dict | list):
            payload = json.dumps(payload).encode()
            content_type = "application/json"
        elif isinstance(payload, str):
            payload = payload.encode()
        try:
            self.send_response(response.status)
            headers = {"Content-Type": content_type, **response.headers}
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if payload and self.command != "HEAD":
                self.wfile.write(payload)
            self.wfile.flush()
        except OSError:  # the client gave up (e.g. it timed out); nothing to answer
            self.close_connection = True
            return
        if 200 <= response.status < 300:
            self.server.receiver._accepted(request)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Receiver:
    """A recording HTTP server on 127.0.0.1; use as a context manager."""

    def __init__(self, behaviour: Behaviour | None = None, *, host: str = "127.0.0.1") -> None:
        self._behaviour: Behaviour = behaviour or ok()
        self._lock = threading.Lock()
        self._requests: list[Request] = []
        self._seen: Counter[str] = Counter()
        self._accepts: Counter[tuple[str, str]] = Counter()
        self._first_accept: dict[tuple[str, str], float] = {}
        self._errors: list[BaseException] = []
        self._connections: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._server = _Server((host, 0), _Handler)
        self._server.receiver = self
        self._thread: threading.Thread | None = None

    # -- lifecycle
    def start(self) -> Receiver:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"receiver-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # wake handler threads parked on keep-alive reads
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- addresses
    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:54321``."""
        return f"http://127.0.0.1:{self.port}"

    def url_for(self, path: str = "/hook") -> str:
        return self.url + (path if path.startswith("/") else "/" + path)

    # -- behaviour
    def set_behaviour(self, behaviour: Behaviour) -> None:
        with self._lock:
            self._behaviour = behaviour

    def reset(self) -> None:
        """Forget recorded requests and per-webhook-id counts."""
        with self._lock:
            self._requests.clear()
            self._seen.clear()
            self._accepts.clear()
            self._first_accept.clear()

    # -- what was received
    def requests(self, path: str | None = None) -> list[Request]:
        """A snapshot of the requests so far, oldest first (optionally one path only)."""
        with self._lock:
            items = list(self._requests)
        return [r for r in items if path is None or r.path == path]

    def count(self, path: str | None = None) -> int:
        return len(self.requests(path))

    def by_webhook_id(self) -> dict[str | None, list[Request]]:
        grouped: dict[str | None, list[Request]] = {}
        for request in self.requests():
            grouped.setdefault(request.webhook_id, []).append(request)
        return grouped

    def wait_for_count(
        self, n: int, timeout: float = 5.0, path: str | None = None
    ) -> list[Request]:
        """Wait until at least ``n`` requests arrived; return them."""
        wait_for(lambda: self.count(path) >= n, timeout, f"{n} requests (got {self.count(path)})")
        return self.requests(path)

    # -- what was answered 2xx (the answer was written: the sender may have it)
    def accepted_ids(self, path: str | None = None) -> set[str]:
        """Webhook-ids answered 2xx at ``path`` (or at any path)."""
        with self._lock:
            return {i for p, i in self._accepts if path is None or p == path}

    def accepted_at(self, path: str, webhook_id: str) -> float | None:
        """``time.monotonic()`` of the first 2xx answer to ``webhook_id`` at ``path``."""
        with self._lock:
            return self._first_accept.get((path, webhook_id))

    def repeated_requests(self) -> int:
        """Requests beyond the first for one webhook-id at one path (retries included)."""
        counts = Counter((r.path, r.webhook_id) for r in self.requests())
        return sum(n - 1 for n in counts.values())

    def repeated_accepts(self) -> int:
        """2xx answers beyond the first for one webhook-id at one path: the duplicates a
        receiver must drop by ``webhook-id``."""
        with self._lock:
            return sum(n - 1 for n in self._accepts.values())

    @property
    def errors(self) -> list[BaseException]:
        """Exceptions raised by the behaviour (they were answered with 500)."""
        with self._lock:
            return list(self._errors)

    # -- called by handler threads
    def _answer(self, request: Request) -> Response:
        with self._lock:
            self._requests.append(request)
            key = request.webhook_id or ""
            self._seen[key] += 1
            seen = self._seen[key]
            behaviour = self._behaviour
        try:
            return behaviour(request, seen)
        except Exception as exc:
            with self._lock:
                self._errors.append(exc)
            return Response(500, f"behaviour raised {type(exc).__name__}: {exc}")

    def _accepted(self, request: Request) -> None:
        key = (request.path, request.webhook_id or "")
        with self._lock:
            self._accepts[key] += 1
            self._first_accept.setdefault(key, time.monotonic())

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)


def wait_for(predicate: Callable[[], T], timeout: float = 5.0, message: str | None = None) -> T:
    """Poll ``predicate`` until it returns something truthy and return that.

    Raises ``AssertionError`` after ``timeout`` seconds, naming ``message``.
    """
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {message or predicate}")
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
