"""What alert rules cost the router: CPU per delivery with and without a CEL filter on
every subscription, measured in the same run.

The router's store path runs in this process on the benchmark database: stream entries
are parsed, events stored, rules evaluated, decisions and deliveries written, one
transaction per batch of 500, exactly as ``EventStore.store`` does in a router. Two
cases alternate in each run, on identical config shapes (one channel, three
subscriptions, three webhook destinations): ``plain`` (no rules) and ``filtered``
(``payload.score >= 0.5 && payload.service in ["checkout", "payment-api"]`` on each
subscription, true for every event, so both cases make the same deliveries). CPU is this
process's (``time.process_time``): the router's share, not Postgres's::

    python -m bench.filters                    # writes bench/RESULTS-rules.md
    python -m bench --only filters             # the same, inside the full harness
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench.report import command_line, header, spread
from bench.services import ROOT, BenchConfig, drop_database, fresh_database
from eventrouter.router.control import Caller, Control
from eventrouter.router.db import make_engine
from eventrouter.router.events import build_envelope
from eventrouter.router.models.configuration import ChannelIn, DestinationIn, SubscriptionIn
from eventrouter.router.models.rules import Rules
from eventrouter.router.settings import Settings
from eventrouter.router.store import EventStore

ORG = "bench-filters"
BATCH = 500
FILTER = 'payload.score >= 0.5 && payload.service in ["checkout", "payment-api"]'
CASES = ("plain", "filtered")


def configure(control: Control) -> None:
    """For each case: a channel, three webhook destinations, three subscriptions."""
    for case in CASES:
        control.channels.add(ChannelIn(name=case, pattern=f"{case}\\..*"))
        for n in range(3):
            hook = {"url": f"http://127.0.0.1:9/{case}/{n}"}
            control.destinations.add(DestinationIn(name=f"{case}-{n}", type="webhook", config=hook))
            rules = Rules(filter=FILTER) if case == "filtered" else None
            control.subscriptions.add(
                SubscriptionIn(
                    name=f"{case}-{n}",
                    channels=[case],
                    destinations=[f"{case}-{n}"],
                    rules=rules,
                )
            )


def entries(case: str, count: int, offset: int) -> list[tuple[bytes, dict[bytes, bytes]]]:
    made = []
    for i in range(count):
        payload = {"service": "checkout", "score": 0.7, "invoice": f"in_{offset + i}"}
        _, raw = build_envelope(
            f"{case}.failed", payload, org=ORG, env="production", idempotency_key=None
        )
        made.append((f"{int(time.time() * 1000)}-{offset + i}".encode(), {b"event": raw.encode()}))
    return made


def measure(store: EventStore, case: str, events: int, offset: int) -> dict[str, float]:
    batches = [entries(case, BATCH, offset + b * BATCH) for b in range(max(1, events // BATCH))]
    deliveries = 0
    cpu, wall = time.process_time(), time.perf_counter()
    for batch in batches:
        deliveries += len(store.store(batch, dispatching=False).deliveries)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "events": float(len(batches) * BATCH),
        "deliveries": float(deliveries),
        "cpu_us_per_delivery": cpu / deliveries * 1e6,
        "events_per_s": len(batches) * BATCH / wall,
    }


def run_all(settings: Settings, events: int, runs: int) -> dict[str, list[dict[str, float]]]:
    engine = make_engine(settings.database_url)
    try:
        configure(Control(engine, settings, Caller(org=ORG)))
        store = EventStore(engine)
        store.refresh_routing_table()
        measure(store, "plain", BATCH, 10**9)  # warm up: connections, caches
        measure(store, "filtered", BATCH, 2 * 10**9)
        results: dict[str, list[dict[str, float]]] = {case: [] for case in CASES}
        for run in range(runs):
            order = CASES if run % 2 == 0 else CASES[::-1]  # neither always goes first
            for case in order:
                results[case].append(measure(store, case, events, (run + 1) * 10**7))
        return results
    finally:
        engine.dispose()


def render(results: dict[str, list[dict[str, float]]], events: int, command: str) -> str:
    plain_cpu = spread(results["plain"], "cpu_us_per_delivery")[0]
    plain_rate = spread(results["plain"], "events_per_s")[0]
    lines = [
        "# Alert rules: router cost of a filter",
        "",
        f"{header(command, shared=True)} "
        "(absolute figures move with the load; the ratio is what one run says). "
        f"{events:,} events per "
        f"case and run in batches of {BATCH}, 3 subscriptions each (3 deliveries per event); "
        "medians of the runs with min–max.",
        "",
        "| case | router CPU µs/delivery | events/s stored | × plain CPU | × plain events/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for case, runs in results.items():
        cpu = spread(runs, "cpu_us_per_delivery")
        rate = spread(runs, "events_per_s")
        lines.append(
            f"| {case} | {cpu[0]:.1f} ({cpu[1]:.1f}–{cpu[2]:.1f}) | "
            f"{rate[0]:,.0f} ({rate[1]:,.0f}–{rate[2]:,.0f}) | {cpu[0] / plain_cpu:.2f} | "
            f"{rate[0] / plain_rate:.2f} |"
        )
    lines += [
        "",
        f"`filtered` evaluates `{FILTER}` once per (event, subscription) with the compiled",
        "CEL program (compiled once per config version) and records a decision per",
        "subscription, as `plain` does. The issue's bar is end-to-end throughput with a",
        "filter on every subscription at ≥ 90% of the same run without: the router's store",
        "path is the only part a filter touches (workers send the same deliveries).",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.filters", description=__doc__.split("\n")[0]
    )
    parser.add_argument("-n", "--events", type=int, default=20_000, help="events per case and run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS-rules.md")
    args = parser.parse_args()
    config = BenchConfig()
    fresh_database(config)
    try:
        results = run_all(config.settings(), args.events, args.runs)
    finally:
        drop_database(config)
    command = command_line("python -m bench.filters")
    args.out.write_text(render(results, args.events, command))
    print(args.out.read_text())


if __name__ == "__main__":
    main()
