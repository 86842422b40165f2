"""A TCP proxy on loopback that cuts a connection at one chosen point, the way a network
fault or a server crash does, for tests of "what if this write is cut in half".

    with CutProxy(6379) as proxy:
        proxy.cut_before(b"\\r\\nXDEL\\r\\n", frame_start=b"*", down_for=2.0)
        client = redis.Redis(port=proxy.port)
        ...

Two faults, each armed once:

- ``cut_before(marker)``: the next client data holding ``marker`` is forwarded only up to
  the frame that holds it, then both sides are closed (and, with ``down_for``, new
  connections are refused for that long, like a server that is restarting): the server
  ran what came before and never saw the rest.
- ``drop_reply(marker, after=...)``: once ``after`` went by on a connection, the next
  client data holding ``marker`` is forwarded, the server's reply to it is read and
  thrown away, and both sides are closed: the server did it, the client never heard.

- ``hold(marker)``: the next client data holding ``marker`` waits in the proxy
  (``holding`` is set) until ``release(forward=True)`` passes it on or
  ``release(forward=False)`` closes both sides without the server seeing it: a request
  as slow as a test needs, that then succeeds or fails.

Everything else passes through untouched, in both directions.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType


@dataclass
class _Fault:
    kind: str  # "cut_before", "drop_reply" or "hold"
    marker: bytes
    frame_start: bytes = b""
    after: bytes | None = None
    down_for: float = 0.0


class CutProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self._target = (target_host, target_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._fault: _Fault | None = None
        self._down_until = 0.0
        self._closing = False
        self._sockets: list[socket.socket] = []
        self.cut = threading.Event()
        """Set once the armed fault has happened."""
        self.holding = threading.Event()
        """Set while ``hold``'s data waits in the proxy."""
        self._released = threading.Event()
        self._forward = True
        threading.Thread(target=self._accept, daemon=True).start()

    # -- arming ----------------------------------------------------------------------
    def cut_before(self, marker: bytes, *, frame_start: bytes = b"", down_for: float = 0.0) -> None:
        """Cut the next client data holding ``marker`` at the last ``frame_start`` before
        it (at ``marker`` itself when empty); refuse connections for ``down_for`` s."""
        self._arm(_Fault("cut_before", marker, frame_start=frame_start, down_for=down_for))

    def drop_reply(self, marker: bytes, *, after: bytes | None = None) -> None:
        """Forward the next client data holding ``marker`` (once ``after`` went by on its
        connection), swallow the server's reply, and close the connection."""
        self._arm(_Fault("drop_reply", marker, after=after))

    def hold(self, marker: bytes) -> None:
        """Keep the next client data holding ``marker`` until ``release``."""
        self._released.clear()
        self._arm(_Fault("hold", marker))

    def release(self, *, forward: bool) -> None:
        """Pass the held data on to the server, or close its connection without it."""
        self._forward = forward
        self._released.set()

    def _arm(self, fault: _Fault) -> None:
        with self._lock:
            self._fault = fault
            self.cut.clear()

    def _take(self, kind: str, data: bytes, seen_after: bool) -> _Fault | None:
        with self._lock:
            fault = self._fault
            if fault is None or fault.kind != kind or fault.marker not in data:
                return None
            if fault.after is not None and not seen_after:
                return None
            self._fault = None
            return fault

    # -- plumbing --------------------------------------------------------------------
    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if time.monotonic() < self._down_until:
                client.close()  # "restarting": nothing listens properly yet
                continue
            try:
                server = socket.create_connection(self._target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            Connection(self, client, server).start()

    def close(self) -> None:
        self._closing = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            _close(sock)

    def __enter__(self) -> CutProxy:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Connection:
    """One proxied connection: a pump each way."""

    def __init__(self, proxy: CutProxy, client: socket.socket, server: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.server = server
        self.seen_after = False
        self.dropping = threading.Event()

    def start(self) -> None:
        threading.Thread(target=self._upstream, daemon=True).start()
        threading.Thread(target=self._downstream, daemon=True).start()

    def _upstream(self) -> None:
        proxy = self.proxy
        while True:
            data = _recv(self.client)
            if not data:
                break
            with proxy._lock:
                after = proxy._fault.after if proxy._fault else None
            if after is not None and after in data:
                self.seen_after = True
            cut = proxy._take("cut_before", data, self.seen_after)
            if cut is not None:
                at = data.index(cut.marker)
                if cut.frame_start:
                    at = data.rfind(cut.frame_start, 0, at)
                _send(self.server, data[:at])
                time.sleep(0.2)  # let the server act on what it got before it sees the end
                proxy._down_until = time.monotonic() + cut.down_for
                self._close()
                proxy.cut.set()
                return
            if proxy._take("hold", data, self.seen_after) is not None:
                proxy.holding.set()
                proxy._released.wait(60)
                proxy.holding.clear()
                if not proxy._forward:
                    self._close()
                    proxy.cut.set()
                    return
            if proxy._take("drop_reply", data, self.seen_after) is not None:
                self.dropping.set()
            if not _send(self.server, data):
                break
        self._close()

    def _downstream(self) -> None:
        while True:
            data = _recv(self.server)
            if not data:
                break
            if self.dropping.is_set():  # the server did it; the client never hears
                self._close()
                self.proxy.cut.set()
                return
            if not _send(self.client, data):
                break
        self._close()

    def _close(self) -> None:
        _close(self.client)
        _close(self.server)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _send(sock: socket.socket, data: bytes) -> bool:
    try:
        sock.sendall(data)
        return True
    except OSError:
        return False


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
