"""A fast webhook receiver for the benchmark: raw asyncio HTTP/1.1 with keep-alive.

The threaded test receiver (tests/receiver.py) records every request in full and tops
out at a few thousand requests/s; measuring a system that should deliver thousands per
second needs a receiver that costs next to nothing per request. This one parses only
what it must (the request line, ``Content-Length``, the body), answers ``200 ok``, and
counts. Run it as its own process so it never competes with the harness for the GIL::

    python -m bench.receiver --port 0          # prints "listening <port>" on stdout

Paths choose the behaviour, so one receiver serves every case of a run:

- ``/delay/<ms>/<anything>``: answer after ``<ms>`` milliseconds (slow destinations);
- anything else: answer at once;
- ``GET /_count``: the number of requests counted so far (cheap to poll);
  ``GET /_count/fan/``: only those whose path starts with ``/fan/``;
- ``GET /_stats``: JSON ``{"total": n, "paths": {path: n}, "latencies": [...]}``;
- ``POST /_reset``: zero the counters and drop recorded latencies.

Latency: when a JSON body carries ``"t":<unix seconds>`` (the time the benchmark
published the event), arrival minus ``t`` is recorded, so publish → delivered is
measured the same way for eventrouter and for the baseline, whatever headers they send.
Responses on one connection are written in request order as long as requests on it share
one delay, which holds because every client here sends one request at a time per
connection.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import time
from collections import Counter

_T_FIELD = re.compile(rb'"t":\s*([0-9.]+)')
_OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"
_BAD = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
MAX_LATENCIES = 2_000_000


class Stats:
    def __init__(self) -> None:
        self.total = 0
        self.paths: Counter[bytes] = Counter()
        self.latencies: list[float] = []

    def reset(self) -> None:
        self.total = 0
        self.paths.clear()
        self.latencies = []

    def as_json(self) -> bytes:
        return json.dumps(
            {
                "total": self.total,
                "paths": {p.decode("latin-1"): n for p, n in self.paths.items()},
                "latencies": self.latencies,
            }
        ).encode()


class HttpProtocol(asyncio.Protocol):
    """One keep-alive connection: parse requests out of the byte stream and answer."""

    def __init__(self, stats: Stats) -> None:
        self.stats = stats
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        while True:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                break
            head = buffer[:head_end]
            length = 0
            marker = head.lower().find(b"\r\ncontent-length:")
            if marker >= 0:
                line_end = head.find(b"\r\n", marker + 2)
                value = head[marker + 17 : line_end if line_end >= 0 else None]
                try:
                    length = int(value)
                except ValueError:
                    self._write(_BAD)
                    assert self.transport is not None
                    self.transport.close()
                    return
            end = head_end + 4 + length
            if len(buffer) < end:
                break
            body = buffer[head_end + 4 : end]
            buffer = buffer[end:]
            self._handle(head, body)
        self.buffer = buffer

    def _handle(self, head: bytes, body: bytes) -> None:
        line_end = head.find(b"\r\n")
        request_line = head[: line_end if line_end >= 0 else None]
        parts = request_line.split(b" ")
        method, path = (parts[0], parts[1]) if len(parts) >= 2 else (b"", b"/")
        if path == b"/_stats":
            self._send_json(self.stats.as_json())
            return
        if path.startswith(b"/_count"):
            prefix = path[len(b"/_count") :]
            count = (
                sum(n for p, n in self.stats.paths.items() if p.startswith(prefix))
                if prefix
                else self.stats.total
            )
            self._send_json(str(count).encode())
            return
        if path == b"/_reset":
            self.stats.reset()
            self._send_json(b"{}")
            return
        stats = self.stats
        stats.total += 1
        stats.paths[path] += 1
        if method == b"POST" and len(stats.latencies) < MAX_LATENCIES:
            found = _T_FIELD.search(body)
            if found:
                stats.latencies.append(time.time() - float(found.group(1)))
        if path.startswith(b"/delay/"):
            try:
                delay_ms = int(path.split(b"/")[2])
            except (IndexError, ValueError):
                delay_ms = 0
            asyncio.get_running_loop().call_later(delay_ms / 1000, self._write, _OK)
            return
        self._write(_OK)

    def _send_json(self, payload: bytes) -> None:
        self._write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(payload)).encode()
            + b"\r\n\r\n"
            + payload
        )

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(host: str, port: int) -> None:
    stats = Stats()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: HttpProtocol(stats), host, port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening {bound}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        import uvloop
    except ImportError:  # plain asyncio also serves; uvloop is about twice as fast
        asyncio.run(serve(args.host, args.port))
    else:
        uvloop.run(serve(args.host, args.port))


if __name__ == "__main__":
    main()
