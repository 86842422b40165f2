"""A lean Redis connection for the one command ``publish()`` sends.

redis-py's command machinery (pool checkout, argument filtering, observability hooks)
costs about twice the round trip itself; the publish path sends a single EVALSHA, so it
speaks RESP directly through hiredis: pack, one ``sendall``, parse. Everything else keeps
using redis-py. ``rediss://`` (TLS) URLs are not handled here: ``lean_address`` returns
``None`` and the caller falls back to redis-py.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import socket
import struct
import sys
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis


class WireError(ConnectionError):
    """The connection failed or was closed; the caller may reconnect and retry."""


class ReplyError(Exception):
    """Redis answered the command with an error (``-ERR …``)."""


@dataclass(frozen=True)
class Address:
    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None  # a unix socket
    db: int = 0
    username: str | None = None
    password: str | None = None

    def handshake(self) -> list[tuple[str | int, ...]]:
        """The commands a fresh connection sends before any other."""
        commands: list[tuple[str | int, ...]] = []
        if self.password is not None:
            if self.username:
                commands.append(("AUTH", self.username, self.password))
            else:
                commands.append(("AUTH", self.password))
        if self.db:
            commands.append(("SELECT", self.db))
        return commands


def lean_address(url: str) -> Address | None:
    """The address in a ``redis://`` or ``unix://`` URL; ``None`` for anything else."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if parts.scheme == "unix":
        db = int(query.get("db", ["0"])[0])
        return Address(path=parts.path, db=db, username=username, password=password)
    if parts.scheme != "redis":
        return None
    path = parts.path.lstrip("/")
    db = int(path) if path else int(query.get("db", ["0"])[0])
    return Address(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 6379,
        db=db,
        username=username,
        password=password,
    )


def _check(reply: object) -> object:
    if isinstance(reply, hiredis.ReplyError):
        raise ReplyError(str(reply))
    return reply


class WireConnection:
    """One blocking connection; not thread-safe (``publish()`` keeps one per thread)."""

    def __init__(self, address: Address, *, connect_timeout: float, timeout: float) -> None:
        self.address = address
        self._connect_timeout = connect_timeout
        self._timeout = timeout
        self._sock: socket.socket | None = None
        self._reader = hiredis.Reader()

    def _connect(self) -> socket.socket:
        address = self.address
        try:
            if address.path:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self._connect_timeout)
                sock.connect(address.path)
            else:
                sock = socket.create_connection(
                    (address.host, address.port), timeout=self._connect_timeout
                )
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            raise WireError(f"cannot connect: {exc}") from exc
        _set_kernel_timeout(sock, self._timeout)
        self._sock = sock
        self._reader = hiredis.Reader()
        try:
            for command in address.handshake():
                self.call(*command)
        except BaseException:
            self.close()
            raise
        return sock

    def call(self, *args: str | bytes | int | float) -> object:
        """Send one command and return its reply; ``WireError`` when the connection
        fails (it is then closed), ``ReplyError`` when Redis answers with an error."""
        sock = self._sock or self._connect()
        try:
            sock.sendall(hiredis.pack_command(args))  # type: ignore[arg-type]
            reply = self._reader.gets()
            while reply is False:
                data = sock.recv(65536)
                if not data:
                    raise WireError("connection closed by Redis")
                self._reader.feed(data)
                reply = self._reader.gets()
        except OSError as exc:
            self.close()
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK) or isinstance(exc, TimeoutError):
                raise WireError(f"no reply within {self._timeout:g} s") from exc
            raise WireError(str(exc) or type(exc).__name__) from exc
        except WireError:
            self.close()
            raise
        return _check(reply)

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


def _set_kernel_timeout(sock: socket.socket, seconds: float) -> None:
    """Bound every send and receive by ``seconds`` in the kernel (``SO_SNDTIMEO``,
    ``SO_RCVTIMEO``; an expiry raises ``EAGAIN``) on a blocking socket. A Python socket
    timeout would do the same with a ``poll()`` before each call: twice the system calls
    of a round trip. Where the options are refused, a Python timeout stands in."""
    if sys.platform == "win32":  # its options take milliseconds, not a timeval
        sock.settimeout(seconds)
        return
    whole = int(seconds)
    micros = int((seconds - whole) * 1_000_000)
    if not whole and not micros:
        micros = 1  # an all-zero timeval would mean no timeout at all
    interval = struct.pack("ll", whole, micros)
    try:
        sock.settimeout(None)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, interval)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, interval)
    except (OSError, AttributeError):
        sock.settimeout(seconds)


class _ReplyProtocol(asyncio.Protocol):
    """Replies arrive in the order commands were written: each resolves the oldest
    waiting future, so one connection carries many concurrent ``apublish()`` calls."""

    def __init__(self) -> None:
        self.reader = hiredis.Reader()
        self.waiting: collections.deque[asyncio.Future[object]] = collections.deque()
        self.transport: asyncio.Transport | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            future = self.waiting.popleft()
            if not future.done():
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = WireError(str(exc) if exc else "connection closed by Redis")
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(self.lost)


class AsyncWireConnection:
    """One asyncio connection, shared by every task of its event loop."""

    def __init__(self, address: Address, *, connect_timeout: float, timeout: float) -> None:
        self.address = address
        self._connect_timeout = connect_timeout
        self._timeout = timeout
        self._protocol: _ReplyProtocol | None = None
        self._connecting: asyncio.Lock | None = None

    async def _connected(self) -> _ReplyProtocol:
        protocol = self._protocol
        if protocol is not None and protocol.lost is None:
            return protocol
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            protocol = self._protocol
            if protocol is not None and protocol.lost is None:
                return protocol
            loop = asyncio.get_running_loop()
            address = self.address
            try:
                if address.path:
                    opening = loop.create_unix_connection(_ReplyProtocol, address.path)
                else:
                    opening = loop.create_connection(_ReplyProtocol, address.host, address.port)
                _, fresh = await asyncio.wait_for(opening, self._connect_timeout)
            except (OSError, TimeoutError) as exc:
                raise WireError(f"cannot connect: {exc or 'timed out'}") from exc
            for command in address.handshake():
                await self._send(fresh, command)
            self._protocol = fresh
            return fresh

    async def _send(self, protocol: _ReplyProtocol, args: tuple[str | bytes | int, ...]) -> object:
        transport = protocol.transport
        if transport is None or protocol.lost is not None:
            raise WireError("connection closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[object] = loop.create_future()
        protocol.waiting.append(future)
        transport.write(hiredis.pack_command(args))  # type: ignore[arg-type]
        # A timer, not asyncio.wait_for: that wraps every call in a task, which costs
        # more CPU than the rest of the call.
        timer = loop.call_later(self._timeout, self._expire, future, transport)
        try:
            reply = await future
        finally:
            timer.cancel()
        return _check(reply)

    def _expire(self, future: asyncio.Future[object], transport: asyncio.Transport) -> None:
        if not future.done():
            future.set_exception(WireError(f"no reply within {self._timeout:g} s"))
            # Replies after this one would be matched to the wrong futures: drop the line.
            transport.abort()

    async def call(self, *args: str | bytes | int) -> object:
        return await self._send(await self._connected(), args)

    def close(self) -> None:
        protocol, self._protocol = self._protocol, None
        if protocol is not None and protocol.transport is not None:
            protocol.transport.close()
