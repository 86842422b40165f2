"""Publishing over HTTP against the Python baseline: what ``POST /v1/events`` and
``POST /v1/events/batch`` deliver in events/s next to ``publish()`` and ``publish_many()``
from the same machine, in the same run.

``eventrouter api --workers 2`` serves a stream no router reads; clients use keep-alive
connections (httpx) and an admin's token, so every request is authenticated against
Postgres as in production. The clients run on the same box as the API, Redis and Postgres::

    python -m bench.api                 # writes bench/RESULTS-api.md
    python -m bench.api -n 2000 --runs 1 --out /tmp/a.md
"""

from __future__ import annotations

import argparse
import socket
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import redis

from bench.report import command_line, header, spread
from bench.services import ROOT, BenchConfig, Child, Services, running
from eventrouter.router.client import publish, publish_many
from eventrouter.router.control import Caller, Control
from eventrouter.router.db import make_engine
from eventrouter.router.db.migrate import create_database_if_missing, upgrade
from eventrouter.router.models.people import TokenIn
from eventrouter.router.settings import Settings

BATCH = 1000
THREADS = 8
Figures = dict[str, float]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_api(services: Services, config: BenchConfig, settings: Settings) -> tuple[Child, str]:
    """``eventrouter api --workers 2`` on a free port, and its base URL once it answers."""
    port = _free_port()
    child = services.start(
        "api",
        [
            str(Path(sys.executable).parent / "eventrouter"),
            "api",
            "--port",
            str(port),
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        env=config.env(settings),
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        services.check_alive()
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return child, url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the API did not answer /readyz within 60 s")


def admin_token(settings: Settings) -> str:
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        control = Control(engine, settings, Caller(org=settings.org))
        return control.tokens.create(TokenIn(service="bench", role="developer")).token
    finally:
        engine.dispose()


def _timed(work: Callable[[], int]) -> Figures:
    began = time.perf_counter()
    events = work()
    seconds = time.perf_counter() - began
    return {"events": events, "seconds": seconds, "events_per_s": events / seconds}


def _in_threads(threads: int, each: Callable[[int], int]) -> int:
    counts = [0] * threads

    def run(index: int) -> None:
        counts[index] = each(index)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return sum(counts)


def _publish_singles(settings: Settings, n: int) -> int:
    for i in range(n):
        publish("bench:api", {"n": i}, settings=settings)
    return n


def _publish_batches(settings: Settings, n: int) -> int:
    for _ in range(n // BATCH):
        publish_many([("bench:api", {"n": i}) for i in range(BATCH)], settings=settings)
    return n // BATCH * BATCH


def _post_singles(url: str, token: str, n: int) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        for i in range(n):
            answer = http.post("/v1/events", json={"name": "bench:api", "payload": {"n": i}})
            answer.raise_for_status()
    return n


def _post_batches(url: str, token: str, n: int) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    events = [{"name": "bench:api", "payload": {"n": i}} for i in range(BATCH)]
    with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
        for _ in range(n // BATCH):
            http.post("/v1/events/batch", json={"events": events}).raise_for_status()
    return n // BATCH * BATCH


def cases(url: str, token: str, settings: Settings, n: int) -> dict[str, Callable[[], int]]:
    """Each case publishes about ``n`` events and returns how many it published."""
    per_thread = max(1, n // THREADS)
    return {
        "publish(), 1 thread": lambda: _publish_singles(settings, n),
        "POST /v1/events, 1 client": lambda: _post_singles(url, token, n),
        f"POST /v1/events, {THREADS} clients": lambda: _in_threads(
            THREADS, lambda _i: _post_singles(url, token, per_thread)
        ),
        f"publish_many({BATCH:,})": lambda: _publish_batches(
            settings, max(BATCH, 10 * n // BATCH * BATCH)
        ),
        f"POST /v1/events/batch ({BATCH:,}), 1 client": lambda: _post_batches(
            url, token, max(BATCH, 10 * n // BATCH * BATCH)
        ),
        f"POST /v1/events/batch ({BATCH:,}), 2 clients": lambda: _in_threads(
            2, lambda _i: _post_batches(url, token, max(BATCH, 5 * n // BATCH * BATCH))
        ),
    }


BASELINE_OF = {
    "POST /v1/events, 1 client": "publish(), 1 thread",
    f"POST /v1/events, {THREADS} clients": "publish(), 1 thread",
    f"POST /v1/events/batch ({BATCH:,}), 1 client": f"publish_many({BATCH:,})",
    f"POST /v1/events/batch ({BATCH:,}), 2 clients": f"publish_many({BATCH:,})",
}


def run_all(
    services: Services, config: BenchConfig, n: int, runs: int, log: Callable[[str], None] = print
) -> dict[str, list[Figures]]:
    """Every case, ``runs`` times, interleaved so that load changes hit them alike."""
    settings = config.settings(stream=f"{config.key_prefix}:api-only")
    create_database_if_missing(settings.database_url)
    upgrade(settings.database_url)
    child, url = start_api(services, config, settings)
    token = admin_token(settings)
    client = redis.Redis.from_url(settings.redis_url)
    results: dict[str, list[Figures]] = {}
    try:
        _post_singles(url, token, 50)  # warm both API processes and their pools
        for number in range(1, runs + 1):
            for name, work in cases(url, token, settings, n).items():
                client.delete(settings.stream)
                figures = _timed(work)
                results.setdefault(name, []).append(figures)
                log(f"  api run {number}: {name}: {figures['events_per_s']:,.0f} events/s")
    finally:
        services.stop(child)
        client.delete(settings.stream, f"{settings.stream}:metrics")
        client.close()
    return results


def render(results: dict[str, list[Figures]], n: int, command: str) -> str:
    lines = [
        "# HTTP API publishing benchmark",
        "",
        f"{header(command)}. `eventrouter api --workers 2`, "
        "clients, Redis and Postgres on the same machine; each request authenticated with a "
        f"token; about {n:,} single events per case and run (10× that in batches); medians "
        "of the runs with min–max. The stream is not read by a router (publishing alone).",
        "",
        "| case | events/s | × Python baseline |",
        "|---|---:|---:|",
    ]
    for name, runs in results.items():
        median, low, high = spread(runs, "events_per_s")
        base = BASELINE_OF.get(name)
        ratio = f"{median / spread(results[base], 'events_per_s')[0]:.2f}" if base else "baseline"
        lines.append(f"| {name} | {median:,.0f} ({low:,.0f}–{high:,.0f}) | {ratio} |")
    lines += [
        "",
        "A single `POST /v1/events` costs an HTTP round trip, a token check in Postgres and "
        "request parsing on top of `publish()`'s one Redis round trip; a batch spreads those "
        "over 1,000 events, so producers with volume should batch (or use the Python "
        "client).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    parser.add_argument("-n", type=int, default=3000, help="single events per case and run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS-api.md")
    args = parser.parse_args()
    config = BenchConfig()
    with running(config) as services:
        results = run_all(services, config, args.n, args.runs)
    args.out.write_text(render(results, args.n, command_line("python -m bench.api")))
    print(args.out.read_text())


if __name__ == "__main__":
    main()
