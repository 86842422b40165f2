"""What one event costs the producer, against the floor: one XADD over a plain socket.

Every case publishes the same small event from one thread to a stream no router reads
and reports events/s and the client's CPU per event (``time.process_time``, so the
background publisher's own thread counts too). The floor builds the same JSON envelope
with a fresh UUID and sends one XADD through hiredis on a raw socket: no library can
spend less per round trip. The script floors send the publish script with entries built
beforehand: what any client keeping the contract (an atomic StreamFull check) waits for.
The baseline of issue 14's ratios is the publish path as the issue found it
(``bench/before_publish.py``), measured in the same run::

    python -m bench.producer            # writes bench/RESULTS-producer.md
    python -m bench.producer -n 5000 --out /tmp/p.md
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hiredis
import redis

from bench import before_publish
from bench.report import command_line, header, spread
from bench.services import ROOT, BenchConfig
from eventrouter.router.client import (
    _run_script,
    _script_args,
    _thread_connection,
    apublish,
    apublish_many,
    envelope,
    publish,
    publish_many,
)
from eventrouter.router.events import STREAM_FIELD
from eventrouter.router.publisher import Publisher
from eventrouter.router.redis_conn import redis_client
from eventrouter.router.settings import Settings
from eventrouter.router.spool import Spool
from eventrouter.router.wire import lean_address

# The script publish() ran before it remembered idempotency keys, through redis-py.
_BEFORE_SCRIPT = """
local length = redis.call('XLEN', KEYS[1])
local count = #ARGV - 2
if length + count > tonumber(ARGV[1]) then
  return {0, length}
end
for i = 3, #ARGV do
  redis.call('XADD', KEYS[1], '*', ARGV[2], ARGV[i])
end
return {1, length + count}
"""
PAYLOAD = {"invoice": "in_123", "amount": 4200, "currency": "eur", "n": 1}
Figures = dict[str, float]


def _timed(send: Callable[[int], None], n: int, per_call: int = 1) -> Figures:
    """Events/s and CPU µs per event over ``n`` calls of ``send`` (after a warm-up)."""
    for i in range(min(200, n)):
        send(i)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(n):
        send(i)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    events = n * per_call
    return {"events_per_s": events / wall, "cpu_us_per_event": cpu / events * 1e6}


def floor(settings: Settings, n: int) -> Figures:
    """One XADD round trip over a raw socket with hiredis, JSON and id included."""
    address = lean_address(settings.redis_url)
    assert address is not None
    sock = socket.create_connection((address.host, address.port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = hiredis.Reader()
    if address.db:
        sock.sendall(hiredis.pack_command(("SELECT", address.db)))
        reader.feed(sock.recv(1024))
        reader.gets()
    field = STREAM_FIELD.decode()

    def send(i: int) -> None:
        entry = json.dumps(
            {"id": str(uuid.uuid4()), "name": "bench.one", "org": "default", "payload": PAYLOAD},
            separators=(",", ":"),
        )
        sock.sendall(hiredis.pack_command(("XADD", settings.stream, "*", field, entry)))
        reply = reader.gets()
        while reply is False:
            reader.feed(sock.recv(65536))
            reply = reader.gets()

    try:
        return _timed(send, n)
    finally:
        sock.close()


def script_floor(settings: Settings, n: int, batch: int = 1) -> Figures:
    """The publish script alone: ``batch`` entries built once, then the same EVALSHA
    sent ``n // batch`` times over the lean connection. What any client keeping the
    contract (the atomic StreamFull check, one round trip) spends beside its own work."""
    built = [
        envelope(settings, "bench.one", PAYLOAD, org=None, env=None, idempotency_key=None)
        for _ in range(batch)
    ]
    args = _script_args(settings, built)
    wire = _thread_connection(settings.redis_url)
    assert wire is not None
    return _timed(
        lambda i: _run_script(wire, settings.stream, args) and None, max(1, n // batch), batch
    )


def as_filed(settings: Settings, n: int, batch: int = 1) -> Figures:
    """``publish()`` (``batch`` 1) or ``publish_many`` as issue 14 found them: the
    baseline of the ratios (``bench/before_publish.py``)."""
    send_many, close = before_publish.publisher(settings)
    events = [("bench.one", PAYLOAD)] * batch
    try:
        return _timed(lambda i: send_many(events) and None, max(1, n // batch), batch)
    finally:
        close()


def redis_py_script(settings: Settings, n: int) -> Figures:
    """Today's envelope, then the script through redis-py's Script: what the lean
    connection alone saves."""
    client = redis_client(settings.redis_url, retries=settings.publish_retries)
    script = client.register_script(_BEFORE_SCRIPT)
    max_length = settings.stream_max_length

    def send(i: int) -> None:
        _, entry, _ = envelope(
            settings, "bench.one", PAYLOAD, org=None, env=None, idempotency_key=None
        )
        script(keys=[settings.stream], args=[max_length, "event", entry])

    try:
        return _timed(send, n)
    finally:
        client.close()


def redis_py_xadd(settings: Settings, n: int) -> Figures:
    """redis-py's own ``xadd`` with the same envelope, for reference."""
    client = redis.Redis.from_url(settings.redis_url)

    def send(i: int) -> None:
        _, entry, _ = envelope(
            settings, "bench.one", PAYLOAD, org=None, env=None, idempotency_key=None
        )
        client.xadd(settings.stream, {"event": entry})

    try:
        return _timed(send, n)
    finally:
        client.close()


def single(settings: Settings, n: int) -> Figures:
    return _timed(lambda i: publish("bench.one", PAYLOAD, settings=settings) and None, n)


def many(settings: Settings, n: int, batch: int = 1000) -> Figures:
    events = [("bench.one", PAYLOAD)] * batch
    return _timed(
        lambda i: publish_many(events, settings=settings) and None, max(1, n // batch), batch
    )


def redis_py_many(settings: Settings, n: int, batch: int = 1000) -> Figures:
    """Today's envelopes, then the script through redis-py's Script."""
    client = redis_client(settings.redis_url, retries=settings.publish_retries)
    script = client.register_script(_BEFORE_SCRIPT)

    def send(i: int) -> None:
        args: list[Any] = [settings.stream_max_length, "event"]
        for _ in range(batch):
            _, entry, _ = envelope(
                settings, "bench.one", PAYLOAD, org=None, env=None, idempotency_key=None
            )
            args.append(entry)
        script(keys=[settings.stream], args=args)

    try:
        return _timed(send, max(1, n // batch), batch)
    finally:
        client.close()


def asynchronous(settings: Settings, n: int, concurrency: int) -> Figures:
    """``apublish()`` from one event loop: awaited one at a time (``concurrency`` 1) or
    ``concurrency`` tasks at once sharing the loop's connection."""

    async def run() -> Figures:
        for _ in range(200):
            await apublish("bench.one", PAYLOAD, settings=settings)
        rounds = max(1, n // concurrency)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(rounds):
            if concurrency == 1:
                await apublish("bench.one", PAYLOAD, settings=settings)
            else:
                await asyncio.gather(
                    *(apublish("bench.one", PAYLOAD, settings=settings) for _ in range(concurrency))
                )
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        events = rounds * concurrency
        return {"events_per_s": events / wall, "cpu_us_per_event": cpu / events * 1e6}

    return asyncio.run(run())


def asynchronous_many(settings: Settings, n: int, batch: int = 1000) -> Figures:
    events = [("bench.one", PAYLOAD)] * batch

    async def run() -> Figures:
        rounds = max(1, n // batch)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(rounds):
            await apublish_many(events, settings=settings)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        return {
            "events_per_s": rounds * batch / wall,
            "cpu_us_per_event": cpu / (rounds * batch) * 1e6,
        }

    return asyncio.run(run())


def background(settings: Settings, n: int) -> Figures:
    """The background ``Publisher``: the caller's cost per call (thread CPU, p99 of the
    call), and the events/s until every event was accepted by Redis (``flush``)."""
    with tempfile.TemporaryDirectory() as spool:
        publisher = Publisher(settings=settings, spool_dir=spool, install_atexit=False)
        try:
            durations: list[float] = []
            thread0, cpu0, wall0 = time.thread_time(), time.process_time(), time.perf_counter()
            for _ in range(n):
                began = time.perf_counter()
                publisher.publish("bench.one", PAYLOAD)
                durations.append(time.perf_counter() - began)
            caller_cpu = time.thread_time() - thread0
            if not publisher.flush(timeout=120):
                raise RuntimeError("the background publisher did not flush within 120 s")
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        finally:
            publisher.close(timeout=10)
    durations.sort()
    return {
        "events_per_s": n / wall,
        "cpu_us_per_event": cpu / n * 1e6,
        "caller_cpu_us_per_call": caller_cpu / n * 1e6,
        "call_p99_us": durations[int(len(durations) * 0.99)] * 1e6,
    }


def spool_writes(sync: str, n: int, batch: int) -> Figures:
    """Events/s into the disk spool, ``batch`` per transaction, under ``sync``."""
    settings = Settings()
    built = [
        envelope(settings, "bench.one", PAYLOAD, org=None, env=None, idempotency_key=None)
        for _ in range(batch)
    ]
    with tempfile.TemporaryDirectory() as directory:
        spool = Spool(directory, max_bytes=2**34, sync=sync)
        try:
            rounds = max(1, n // batch)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for _ in range(rounds):
                spool.put(built, "drop_new")
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        finally:
            spool.close()
    return {"events_per_s": rounds * batch / wall, "cpu_us_per_event": cpu / (rounds * batch) * 1e6}


SPOOL_CASES: dict[str, Callable[[int], Figures]] = {
    "sync=normal, 500 per write (an outage)": lambda n: spool_writes("normal", n, 500),
    "sync=full, 500 per write": lambda n: spool_writes("full", n, 500),
    "sync=normal, 1 per write": lambda n: spool_writes("normal", n // 10, 1),
    "sync=full, 1 per write": lambda n: spool_writes("full", n // 10, 1),
}

CASES: dict[str, Callable[[Settings, int], Figures]] = {
    "floor: raw socket + hiredis XADD": floor,
    "redis-py xadd": redis_py_xadd,
    "floor: the publish script, entry built beforehand": script_floor,
    "before: publish() as filed (issue 14)": as_filed,
    "today's envelope via redis-py Script": redis_py_script,
    "publish()": single,
    "apublish(), awaited one by one": lambda s, n: asynchronous(s, n, 1),
    "apublish(), 100 tasks at once": lambda s, n: asynchronous(s, n, 100),
    "Publisher.publish() (background)": background,
    "floor: publish_many's script, 1,000 entries built beforehand": lambda s, n: script_floor(
        s, n, 1000
    ),
    "before: publish_many (1,000) as filed": lambda s, n: as_filed(s, n, 1000),
    "today's envelopes (1,000) via redis-py Script": redis_py_many,
    "publish_many (1,000 per call)": many,
    "apublish_many (1,000 per call)": asynchronous_many,
}


def run_all(settings: Settings, n: int, runs: int) -> dict[str, list[Figures]]:
    """Each case ``runs`` times, interleaved so load drifts touch every case alike."""
    client = redis.Redis.from_url(settings.redis_url)
    results: dict[str, list[Figures]] = {name: [] for name in CASES}
    results.update({f"spool {name}": [] for name in SPOOL_CASES})
    try:
        for _ in range(runs):
            for name, case in CASES.items():
                client.delete(settings.stream)
                results[name].append(case(settings, n))
            for name, spool_case in SPOOL_CASES.items():
                results[f"spool {name}"].append(spool_case(n))
    finally:
        client.delete(settings.stream)
        client.close()
    return results


def _cells(runs: list[Figures]) -> tuple[str, str]:
    """Events/s and CPU µs per event: median (min–max)."""
    rate, rate_lo, rate_hi = spread(runs, "events_per_s")
    cpu, cpu_lo, cpu_hi = spread(runs, "cpu_us_per_event")
    return f"{rate:,.0f} ({rate_lo:,.0f}–{rate_hi:,.0f})", f"{cpu:.1f} ({cpu_lo:.1f}–{cpu_hi:.1f})"


def render(results: dict[str, list[Figures]], n: int, command: str) -> str:
    floor_cpu = spread(results["floor: raw socket + hiredis XADD"], "cpu_us_per_event")[0]
    before_rate = spread(results["before: publish() as filed (issue 14)"], "events_per_s")[0]
    before_many = spread(results["before: publish_many (1,000) as filed"], "events_per_s")[0]
    lines = [
        "# Producer benchmark",
        "",
        f"{header(command)}. {n:,} events per case and run, "
        "one thread, a small payload; medians of the runs with min–max.",
        "",
        "| case | events/s | CPU µs/event | × floor CPU | × before (events/s) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, runs in results.items():
        if not name.startswith("spool "):
            base = before_many if "1,000" in name else before_rate
            rate, cpu = _cells(runs)
            ratios = f"{spread(runs, 'cpu_us_per_event')[0] / floor_cpu:.2f}"
            ratios += f" | {spread(runs, 'events_per_s')[0] / base:.2f}"
            lines.append(f"| {name} | {rate} | {cpu} | {ratios} |")
    background_runs = results["Publisher.publish() (background)"]
    caller = spread(background_runs, "caller_cpu_us_per_call")
    p99 = spread(background_runs, "call_p99_us")
    lines += [
        "",
        f"The background publisher's caller spends {caller[0]:.1f} µs of its own CPU per "
        f"call ({caller[1]:.1f}–{caller[2]:.1f}); p99 of a call {p99[0]:.1f} µs "
        f"({p99[1]:.1f}–{p99[2]:.1f}). Its events/s above run until `flush()` returned, "
        "so they include the background thread's batches.",
        "",
        "The disk spool (SQLite, WAL), written as the background thread does during an "
        "outage (500 events per transaction) and one event per transaction for contrast:",
        "",
        "| spool writes | events/s | CPU µs/event |",
        "|---|---:|---:|",
    ]
    for name, runs in results.items():
        if name.startswith("spool "):
            lines.append(f"| {name.removeprefix('spool ')} | {' | '.join(_cells(runs))} |")
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.producer", description=__doc__)
    parser.add_argument("-n", type=int, default=20_000, help="events per case and run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS-producer.md")
    args = parser.parse_args()
    config = BenchConfig()
    settings = config.settings(stream=f"{config.key_prefix}:producer-only")
    results = run_all(settings, args.n, args.runs)
    args.out.write_text(render(results, args.n, command_line("python -m bench.producer")))
    print(args.out.read_text())


if __name__ == "__main__":
    main()
