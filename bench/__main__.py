"""``python -m bench``: run every case and write bench/RESULTS.md (``make bench``).

    python -m bench                 # the full run: 3 runs of each case, ≈6-8 minutes
    python -m bench --quick --runs 1 --out /tmp/r.md   # tiny sizes: proves it works
    python -m bench --backlog 1000000 --only backlog   # the long memory check
    python -m bench --only retention --rows 10000000   # partitioned history vs plain tables

Services: Postgres and Redis as for the tests (``BENCH_POSTGRES_URL``,
``BENCH_REDIS_URL``, default Redis db 14); the benchmark creates and drops its own
database (``BENCH_DATABASE``, default ``eventrouter_bench``) and uses keys and queues
prefixed ``BENCH_KEY_PREFIX`` (default ``bench``). Child process logs and raw results
go to bench/logs/.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from importlib import metadata
from pathlib import Path
from typing import Any

import psycopg
import redis

from bench import api, clients, filters, producer, routes
from bench.harness import QUICK, Bench, Sizes, sizes_dict
from bench.report import command_line, cpu_model, render
from bench.services import (
    ROOT,
    BenchConfig,
    clear_redis,
    drop_database,
    fresh_database,
    maintenance_dsn,
    running,
)

CASES = (
    "clients",
    "producer",
    "api",
    "publish",
    "e2e",
    "e2e_producer",
    "latency",
    "fanout",
    "slow",
    "scale",
    "routers",
    "backlog",
    "profile",
    "filters",
)


def machine_info(config: BenchConfig) -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    total_kb = int(next(line for line in meminfo if line.startswith("MemTotal")).split()[1])
    versions = {}
    for package in (
        "eventrouter",
        "celery",
        "kombu",
        "redis",
        "hiredis",
        "httpx",
        "sqlalchemy",
        "psycopg",
        "pydantic",
        "uvloop",
    ):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "-"
    client = redis.Redis.from_url(config.redis_url)
    versions["redis-server"] = str(client.info("server").get("redis_version"))
    client.close()
    with psycopg.connect(maintenance_dsn(config)) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        versions["postgres"] = str(row[0]) if row else "?"
    import os

    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gib": round(total_kb / 2**20, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "versions": versions,
        "load_before": os.getloadavg(),
    }


def run(args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    config = BenchConfig()
    sizes = QUICK if args.quick else Sizes()
    if args.backlog is not None:
        sizes = replace(sizes, backlog=args.backlog)
    if args.concurrency is not None:
        sizes = replace(sizes, worker_concurrency=args.concurrency)
    only = (
        set(args.only.split(","))
        if args.only
        else set(CASES) - {"profile"} | (set() if args.no_profile else {"profile"})
    )
    unknown = only - set(CASES)
    if unknown:
        raise SystemExit(
            f"error: unknown case(s) {', '.join(sorted(unknown))}; choose from {', '.join(CASES)}"
        )
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "command": command_line("python -m bench"),
        "machine": machine_info(config),
        "sizes": sizes_dict(sizes),
        "runs": args.runs,
        "cases": {},
    }
    cases: dict[str, list[Any]] = results["cases"]

    def record(name: str, value: Any) -> None:
        cases.setdefault(name, []).append(value)
        log(f"  {name}: {_short(value)}")

    log(f"database {config.database_url.rsplit('/', 1)[1]}, Redis {config.redis_url}")
    fresh_database(config)
    clear_redis(config)
    began = time.perf_counter()
    try:
        with running(config) as services:
            bench = Bench(services, sizes, log=log)
            log("starting receiver, router, worker, baseline worker")
            bench.start()
            if "clients" in only:
                log("HTTP client options (one thread, keep-alive)")
                results["clients"] = clients.run_all(
                    services.url("/clients"), sizes.client_requests
                )
                for name, figures in results["clients"].items():
                    log(
                        f"  {name}: {figures['req_per_s']:.0f} req/s, "
                        f"{figures['cpu_ms_per_req']:.3f} ms CPU/req"
                    )
            if "producer" in only:
                log("producer: publish paths against a raw-socket XADD floor")
                stream = f"{config.key_prefix}:producer-only"
                figures = producer.run_all(
                    config.settings(stream=stream), sizes.producer_events, args.runs
                )
                results["producer"] = figures
                out = args.out.with_name(args.out.stem + "-producer.md")
                out.write_text(producer.render(figures, sizes.producer_events, results["command"]))
                log(f"  wrote {out}")
            if "api" in only:
                log("HTTP API: POST /v1/events and /v1/events/batch against publish()")
                api_sizes = 100 if args.quick else 3000
                figures_api = api.run_all(services, config, api_sizes, args.runs, log)
                results["api"] = figures_api
                out = args.out.with_name(args.out.stem + "-api.md")
                out.write_text(api.render(figures_api, api_sizes, results["command"]))
                log(f"  wrote {out}")
            if "filters" in only:
                log("alert rules: router CPU per delivery with and without a filter")
                rules_figures = filters.run_all(config.settings(), sizes.e2e, args.runs)
                results["filters"] = rules_figures
                out = args.out.with_name(args.out.stem + "-rules.md")
                out.write_text(filters.render(rules_figures, sizes.e2e, results["command"]))
                log(f"  wrote {out}")
            fan_urls = [services.url(f"/fan/{i}") for i in range(routes.FANOUT)]
            for number in range(1, args.runs + 1):
                log(f"run {number}/{args.runs}")
                if "publish" in only:
                    record("publish", bench.publish_rates())
                    record("baseline_publish", bench.baseline_publish_rate())
                if "e2e" in only:
                    record("e2e", bench.throughput("bench.one", sizes.e2e, 1))
                    record(
                        "baseline_e2e",
                        bench.baseline_throughput(sizes.baseline_e2e, [services.url("/one")]),
                    )
                if "e2e_producer" in only:
                    record(
                        "e2e_producer",
                        bench.throughput("bench.one", sizes.e2e, 1, one_by_one=True),
                    )
                    record(
                        "baseline_e2e_producer",
                        bench.baseline_throughput(sizes.baseline_e2e, [services.url("/one")]),
                    )
                if "latency" in only:
                    record("latency", bench.latency())
                    record("baseline_latency", bench.baseline_latency())
                if "fanout" in only or "slow" in only:
                    record("fanout", bench.throughput("bench.fan", sizes.fanout_events, 10))
                    record(
                        "baseline_fanout",
                        bench.baseline_throughput(sizes.baseline_fanout_events, fan_urls),
                    )
                if "slow" in only:
                    record("slow", bench.slow_mix())
                    record("baseline_slow", bench.baseline_slow_mix())
            if "scale" in only:
                log("scale-out: single-process workers, receiver answering in 5 ms")
                with bench.scale_workers() as use:
                    for number in range(1, args.runs + 1):
                        log(f"scale run {number}/{args.runs}")
                        use(1)
                        record("scale_1", bench.scale_run())
                        use(2)
                        record("scale_2", bench.scale_run())
            if "routers" in only:
                log("scale-out: routers, routing only (workers idle)")
                with bench.routing_only() as use_routers:
                    for number in range(1, args.runs + 1):
                        log(f"routers run {number}/{args.runs}")
                        use_routers(1)
                        record("routers_1", bench.routing_run(1))
                        use_routers(2)
                        record("routers_2", bench.routing_run(2))
            if "backlog" in only:
                log(f"backlog of {sizes.backlog} events: RSS while it drains")
                record("backlog", bench.backlog())
            if "profile" in only:
                log("py-spy on router and worker during one more end-to-end run")
                results["profile"] = bench.profile()
            bench.engine.dispose()
    finally:
        results["seconds"] = time.perf_counter() - began
        import os

        results["machine"]["load_after"] = os.getloadavg()
        clear_redis(config)
        if not args.keep:
            drop_database(config)
    return results


def _short(value: Any) -> str:
    if isinstance(value, dict):
        parts = []
        for key, item in value.items():
            if isinstance(item, float):
                parts.append(f"{key}={item:.1f}")
            elif isinstance(item, int | bool):
                parts.append(f"{key}={item}")
        return " ".join(parts)
    return str(value)


def run_retention(args: argparse.Namespace, log: Callable[[str], None]) -> None:
    """The retention case: its own two databases, no router or worker processes."""
    from bench import retention

    if args.rows < 6:
        raise SystemExit("error: --rows must be at least 6 (one event with its attempts)")
    unknown = set(args.schema.split(",")) - set(retention.SCHEMAS) if args.schema else set()
    if unknown:
        raise SystemExit(
            f"error: unknown schema(s) {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(retention.SCHEMAS)}"
        )
    config = BenchConfig()
    began = time.perf_counter()
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "command": command_line("python -m bench"),
        "machine": machine_info(config),
        "retention": retention.run(
            config,
            args.rows,
            log,
            schemas=args.schema.split(",") if args.schema else tuple(retention.SCHEMAS),
            reuse=args.reuse or args.keep,
        ),
    }
    import os

    results["seconds"] = time.perf_counter() - began
    results["machine"]["load_after"] = os.getloadavg()
    # A run of the queries alone never overwrites the full results.
    complete = retention.complete(results)
    default = retention.RESULTS if complete else ROOT / "bench" / "logs" / "retention-queries.md"
    out = args.out if args.out != ROOT / "bench" / "RESULTS.md" else default
    json_path = args.json or (ROOT / "bench" / "logs" / "results-retention.json")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=1, default=str))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(retention.render(results) if complete else retention.render_queries(results))
    log(f"wrote {out} and {json_path} in {results['seconds']:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of each case [3]")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument("--json", type=Path, default=None, help="raw results [bench/logs/]")
    parser.add_argument("--only", default=None, help=f"comma-separated cases: {','.join(CASES)}")
    parser.add_argument("--backlog", type=int, default=None, help="events in the memory case")
    parser.add_argument("--concurrency", type=int, default=None, help="worker processes [2]")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy run")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    parser.add_argument(
        "--rows",
        type=int,
        default=10_000_000,
        help="attempt rows in the retention case (--only retention) [10000000]",
    )
    parser.add_argument(
        "--schema",
        default=None,
        help="retention case: comma-separated databases to load and query: plain,weeks [both]",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="retention case: keep the loaded databases (<BENCH_DATABASE>_<schema>_<rows>) "
        "and reuse them when they hold the same rows; times the queries only",
    )
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    def log(line: str) -> None:
        print(line, flush=True)

    if args.only == "retention":
        run_retention(args, log)
        return

    try:
        results = run(args, log)
    except KeyboardInterrupt:
        print(
            "error: interrupted; every process the benchmark started was stopped", file=sys.stderr
        )
        raise SystemExit(130) from None
    json_path = args.json or (ROOT / "bench" / "logs" / "results.json")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(results, indent=1, default=str))
    args.out.write_text(render(results))
    log(f"wrote {args.out} and {json_path} in {results['seconds']:.0f} s")


if __name__ == "__main__":
    main()
