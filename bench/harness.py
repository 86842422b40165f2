"""The benchmark run: every case, eventrouter and the naive-Celery baseline, same services.

``Bench`` starts the receiver, an eventrouter router and worker, and the baseline's
Celery worker once, then runs each case ``runs`` times (eventrouter and baseline
interleaved, so a noisy minute hurts both), resetting the database between runs. Each
case returns plain dicts; ``bench.report`` turns them into RESULTS.md.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Engine, text

from bench import routes
from bench.measure import (
    BenchTimeout,
    cpu_seconds,
    percentile,
    process_tree,
    rss_bytes,
    scalar,
    wait_until,
)
from bench.services import Child, Services
from eventrouter.router.client import publish, publish_many
from eventrouter.router.db import make_engine, reset
from eventrouter.router.settings import Settings
from eventrouter.router.stream import GROUP

BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Sizes:
    """How much each case sends. ``QUICK`` is for the smoke test: it proves the harness
    works, not the figures."""

    publish_single: int = 10_000
    publish_many: int = 100_000
    baseline_publish: int = 3_000
    e2e: int = 20_000
    baseline_e2e: int = 1_500
    latency_rate: int = 500
    latency_seconds: float = 6.0
    fanout_events: int = 2_000
    baseline_fanout_events: int = 150
    slow_events: int = 4_000
    baseline_slow_events: int = 200
    baseline_slow_seconds: float = 8.0
    scale_events: int = 12_000
    """Long enough that a run's fixed costs (first routing, the last task alone) do not
    hide the second worker: at 3,000 events they did."""
    routing_events: int = 20_000
    """Routing only, workers idle: events stored by one router, then by two."""
    backlog: int = 100_000
    client_requests: int = 5_000
    producer_events: int = 20_000
    worker_concurrency: int | None = None
    """``eventrouter worker -c``; None runs its default (CPUs + 1)."""


QUICK = Sizes(
    publish_single=200,
    publish_many=2_000,
    baseline_publish=100,
    e2e=300,
    baseline_e2e=40,
    latency_rate=100,
    latency_seconds=1.0,
    fanout_events=20,
    baseline_fanout_events=4,
    slow_events=20,
    baseline_slow_events=4,
    baseline_slow_seconds=3.0,
    scale_events=60,
    routing_events=300,
    backlog=2_000,
    client_requests=200,
    producer_events=300,
)


def _payload(i: int) -> dict[str, Any]:
    """A typical small alert payload; ``t`` is read by the receiver for latency."""
    return {"invoice": f"in_{i}", "amount": 4200, "currency": "eur", "n": i, "t": time.time()}


class CpuMeter:
    """CPU seconds used by the benchmark's processes (and Postgres backends) over a span."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.start: dict[str, float] = {}

    def sample(self) -> dict[str, float]:
        bench = self.bench
        groups: dict[str, float] = {}
        for name, child in bench.roles().items():
            groups[name] = sum(cpu_seconds(pid) for pid in process_tree(child.pid))
        groups["postgres"] = sum(cpu_seconds(pid) for pid in bench.postgres_pids())
        groups["machine"] = _machine_cpu_seconds()
        return groups

    def __enter__(self) -> CpuMeter:
        self.start = self.sample()
        return self

    def __exit__(self, *_exc: object) -> None:
        pass

    def used(self) -> dict[str, float]:
        end = self.sample()
        used = {k: end[k] - self.start.get(k, 0.0) for k in end}
        ours = sum(v for k, v in used.items() if k != "machine")
        used["others"] = max(0.0, used.pop("machine") - ours)
        return used


def _machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far (all processes, user + system)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Bench:
    """One benchmark run on the services in ``services``."""

    def __init__(self, services: Services, sizes: Sizes, *, log: Callable[[str], None]) -> None:
        self.services = services
        self.config = services.config
        self.sizes = sizes
        self.log = log
        self.settings: Settings = self.config.settings()
        self.engine: Engine = make_engine(self.config.database_url)
        self.router: Child | None = None
        self.worker: Child | None = None
        self.baseline_worker: Child | None = None
        self._baseline: Any = None

    # -- processes ---------------------------------------------------------------------
    def roles(self) -> dict[str, Child]:
        found = {}
        for child in self.services.children:
            role = child.name.split("-")[0]
            found[child.name if role == "worker" else role] = child
        return found

    def postgres_pids(self) -> list[int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            )
            return [int(row[0]) for row in rows]

    def _env(self) -> dict[str, str]:
        env = self.config.env(self.settings)
        env["BENCH_REDIS_URL"] = self.config.redis_url
        env["BENCH_DATABASE_URL"] = self.config.database_url
        env["BENCH_KEY_PREFIX"] = self.config.key_prefix
        return env

    def start(self) -> None:
        """Receiver, routes, router, worker, baseline worker; each proven ready."""
        self.services.start_receiver()
        routes.create_routes(self.engine, self.settings, self.services.url)
        from bench import baseline

        baseline.create_table()
        self._baseline = baseline
        self.router = self.services.start(
            "router",
            [str(BIN / "eventrouter"), "router", "--log-level", "warning"],
            env=self._env(),
        )
        self.worker = self.start_worker("worker", self.sizes.worker_concurrency)
        self.baseline_worker = self.start_baseline_worker()
        self.warm_up()

    def start_worker(self, name: str, concurrency: int | None) -> Child:
        argv = [str(BIN / "eventrouter"), "worker", "--log-level", "warning"]
        if concurrency is not None:
            argv += ["-c", str(concurrency)]
        argv += ["--hostname", f"{name}@%h"]
        argv += os.environ.get("BENCH_WORKER_ARGS", "").split()
        return self.services.start(name, argv, env=self._env())

    def start_baseline_worker(self) -> Child:
        argv = [str(BIN / "celery"), "-A", "bench.baseline", "worker", "--pool", "prefork"]
        argv += ["--concurrency", "2", "-Q", self.config.baseline_queue, "--loglevel", "WARNING"]
        return self.services.start("baseline", argv, env=self._env())

    def warm_up(self) -> None:
        """One delivery each way, so connections, caches and pools are warm (and every
        process is proven ready) before anything is timed."""
        self.reset()
        publish("bench.one", _payload(0), settings=self.settings)
        self._baseline.deliver.delay({"id": "warm-up", **_payload(0)}, self.services.url("/one"))
        wait_until(
            lambda: self.services.receiver_count() >= 2,
            timeout=90,
            what="the warm-up deliveries (are the router and workers running?)",
            check=self.services.check_alive,
            interval=0.1,
        )
        wait_until(
            lambda: scalar(self.engine, "SELECT count(*) FROM delivery_attempts") >= 1,
            timeout=30,
            what="the warm-up attempt row",
        )

    # -- between runs ------------------------------------------------------------------
    def reset(self) -> None:
        """No delivery in flight, empty tables, counters at zero."""
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "UPDATE deliveries SET status = 'cancelled', updated_at = now() "
                    "WHERE status = 'pending'"
                )
            )
        wait_until(
            lambda: (
                scalar(self.engine, "SELECT count(*) FROM deliveries WHERE status = 'delivering'")
                == 0
            ),
            timeout=60,
            what="deliveries in flight to finish",
            interval=0.1,
        )
        # Everything but the configuration set up once (the baseline's table too).
        reset.truncate(self.engine, keep_configuration=True)
        self.services.reset_receiver()

    def _count_attempts(self) -> int:
        return scalar(self.engine, "SELECT count(*) FROM delivery_attempts")

    def _wait_delivered(self, count: int, prefix: str = "", what: str = "deliveries") -> float:
        return wait_until(
            lambda: self.services.receiver_count(prefix) >= count,
            timeout=max(120.0, count / 50),
            what=f"{count} {what}",
            check=self.services.check_alive,
        )

    # -- publish -----------------------------------------------------------------------
    def publish_rates(self) -> dict[str, float]:
        """Single ``publish()`` calls and ``publish_many`` batches of 1,000, to a stream no
        router reads (the router's work is measured end to end, not here)."""
        settings = self.config.settings(stream=f"{self.config.key_prefix}:publish-only")
        client = redis.Redis.from_url(self.config.redis_url)
        try:
            n = self.sizes.publish_single
            began = time.perf_counter()
            for i in range(n):
                publish("bench.one", _payload(i), settings=settings)
            single = n / (time.perf_counter() - began)
            client.delete(settings.stream)
            n = self.sizes.publish_many
            began = time.perf_counter()
            for start in range(0, n, 1000):
                batch = [("bench.one", _payload(i)) for i in range(start, min(n, start + 1000))]
                publish_many(batch, settings=settings)
            many = n / (time.perf_counter() - began)
        finally:
            client.delete(settings.stream)
            client.close()
        return {"publish": single, "publish_many": many}

    def baseline_publish_rate(self) -> dict[str, float]:
        """``.delay()`` calls in a loop, to a queue no worker reads."""
        task = self._baseline.deliver
        queue = f"{self.config.key_prefix}-naive-publish-only"
        url = self.services.url("/one")
        n = self.sizes.baseline_publish
        began = time.perf_counter()
        for i in range(n):
            task.apply_async(({"id": str(i), **_payload(i)}, url), queue=queue)
        rate = n / (time.perf_counter() - began)
        client = redis.Redis.from_url(self.config.redis_url)
        client.delete(queue)
        client.close()
        return {"delay": rate}

    # -- end to end --------------------------------------------------------------------
    def _publish_backlog(self, name: str, count: int) -> None:
        for start in range(0, count, 1000):
            batch = [(name, _payload(i)) for i in range(start, min(count, start + 1000))]
            publish_many(batch, settings=self.settings)

    def throughput(
        self, name: str, events: int, per_event: int, *, one_by_one: bool = False
    ) -> dict[str, Any]:
        """Publish ``events`` (batches of 1,000, or with ``one_by_one`` a ``publish()``
        call per event from this thread, while the pipeline runs, the way the naive
        baseline's producer calls ``.delay()``) and time until every attempt row is
        committed: from the first publish to the last commit."""
        self.reset()
        expected = events * per_event
        with CpuMeter(self) as cpu:
            began = time.perf_counter()
            if one_by_one:
                for i in range(events):
                    publish(name, _payload(i), settings=self.settings)
            else:
                self._publish_backlog(name, events)
            self._wait_delivered(expected)
            ended = wait_until(
                lambda: self._count_attempts() >= expected,
                timeout=60,
                what=f"{expected} attempt rows",
            )
        seconds = ended - began
        succeeded = scalar(
            self.engine, "SELECT count(*) FROM deliveries WHERE status = 'succeeded'"
        )
        attempts = self._count_attempts()
        if succeeded != expected or attempts != expected:
            raise RuntimeError(
                f"{name}: expected {expected} succeeded deliveries and attempt rows, found "
                f"{succeeded} and {attempts}"
            )
        received = self.services.receiver_count()
        return {
            "deliveries": expected,
            "seconds": seconds,
            "per_second": expected / seconds,
            "duplicates": received - expected,
            "cpu_ms_per_delivery": {k: v * 1000 / expected for k, v in cpu.used().items()},
        }

    def baseline_throughput(self, events: int, urls: list[str]) -> dict[str, Any]:
        self.reset()
        task = self._baseline.deliver
        expected = events * len(urls)
        with CpuMeter(self) as cpu:
            began = time.perf_counter()
            for i in range(events):
                event = {"id": f"naive-{i}", "name": "bench.one", **_payload(i)}
                for url in urls:
                    task.delay(event, url)
            ended = wait_until(
                lambda: scalar(self.engine, "SELECT count(*) FROM naive_attempts") >= expected,
                timeout=max(120.0, expected / 20),
                what=f"{expected} baseline attempt rows",
                check=self.services.check_alive,
            )
        seconds = ended - began
        return {
            "deliveries": expected,
            "seconds": seconds,
            "per_second": expected / seconds,
            "duplicates": self.services.receiver_count() - expected,
            "cpu_ms_per_delivery": {k: v * 1000 / expected for k, v in cpu.used().items()},
        }

    # -- latency -----------------------------------------------------------------------
    def _paced(self, send: Callable[[int], None]) -> float:
        """Call ``send(i)`` at ``latency_rate`` per second for ``latency_seconds``; return
        the rate achieved."""
        rate, count = (
            self.sizes.latency_rate,
            int(self.sizes.latency_rate * self.sizes.latency_seconds),
        )
        began = time.perf_counter()
        for i in range(count):
            delay = began + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            send(i)
        return count / (time.perf_counter() - began)

    def _latencies(self, count: int) -> dict[str, Any]:
        self._wait_delivered(count)
        values = [v * 1000 for v in self.services.receiver_stats()["latencies"]]
        return {
            "events": count,
            "p50_ms": percentile(values, 0.50),
            "p95_ms": percentile(values, 0.95),
            "p99_ms": percentile(values, 0.99),
            "max_ms": max(values) if values else float("nan"),
        }

    def latency(self) -> dict[str, Any]:
        self.reset()
        count = int(self.sizes.latency_rate * self.sizes.latency_seconds)
        achieved = self._paced(lambda i: publish("bench.one", _payload(i), settings=self.settings))
        return {"rate": achieved, **self._latencies(count)}

    def baseline_latency(self) -> dict[str, Any]:
        self.reset()
        count = int(self.sizes.latency_rate * self.sizes.latency_seconds)
        url, task = self.services.url("/one"), self._baseline.deliver
        achieved = self._paced(lambda i: task.delay({"id": f"naive-{i}", **_payload(i)}, url))
        return {"rate": achieved, **self._latencies(count)}

    # -- a slow destination --------------------------------------------------------------
    def slow_mix(self) -> dict[str, Any]:
        """Events to the 10 fan-out destinations plus one answering in 2 s: how fast do
        the 10 get theirs? (Compared with the fan-out case, which lacks the slow one.)"""
        self.reset()
        events = self.sizes.slow_events
        expected = events * routes.FANOUT
        began = time.perf_counter()
        self._publish_backlog("bench.mix", events)
        ended = self._wait_delivered(expected, "/fan/", "fast deliveries")
        slow_done = self.services.receiver_count("/delay/")
        return {
            "fast_deliveries": expected,
            "seconds": ended - began,
            "fast_per_second": expected / (ended - began),
            "slow_delivered_meanwhile": slow_done,
        }

    def baseline_slow_mix(self) -> dict[str, Any]:
        """The same with the baseline, over a fixed window (it would take minutes to
        finish); the window then ends by restarting its worker on an emptied queue."""
        self.reset()
        task = self._baseline.deliver
        fast = [self.services.url(f"/fan/{i}") for i in range(routes.FANOUT)]
        slow = self.services.url(f"/delay/{routes.SLOW_MS}/slow")
        events = self.sizes.baseline_slow_events
        began = time.perf_counter()
        for i in range(events):
            event = {"id": f"naive-{i}", "name": "bench.mix", **_payload(i)}
            for url in [*fast, slow]:
                task.delay(event, url)
        expected = events * routes.FANOUT
        window = self.sizes.baseline_slow_seconds
        with contextlib.suppress(BenchTimeout):
            wait_until(
                lambda: self.services.receiver_count("/fan/") >= expected,
                timeout=window,
                what="baseline fast deliveries",
            )
        elapsed = time.perf_counter() - began
        done = self.services.receiver_count("/fan/")
        self._restart_baseline_worker()
        return {
            "fast_deliveries": done,
            "seconds": elapsed,
            "fast_per_second": done / elapsed,
            "finished": done >= expected,
        }

    def _restart_baseline_worker(self) -> None:
        assert self.baseline_worker is not None
        self.services.stop(self.baseline_worker, grace=15)
        client = redis.Redis.from_url(self.config.redis_url)
        client.delete(self.config.baseline_queue)
        client.close()
        self.baseline_worker = self.start_baseline_worker()
        self.reset()
        self._baseline.deliver.delay({"id": "warm-up", **_payload(0)}, self.services.url("/one"))
        self._wait_delivered(1, what="baseline warm-up after restart")

    # -- scale out -----------------------------------------------------------------------
    @contextlib.contextmanager
    def scale_workers(self) -> Iterator[Callable[[int], None]]:
        """Replace the worker by single-process workers; ``use(n)`` runs n of them."""
        assert self.worker is not None
        self.services.stop(self.worker)
        running: list[Child] = []

        def use(n: int) -> None:
            while len(running) < n:
                running.append(self.start_worker(f"worker-{len(running) + 1}", 1))
            while len(running) > n:
                self.services.stop(running.pop())
            self.reset()
            self._publish_backlog("bench.scale", n)
            self._wait_delivered(n, what=f"warm-up deliveries through {n} worker(s)")

        try:
            yield use
        finally:
            for child in running:
                self.services.stop(child)
            self.worker = self.start_worker("worker", self.sizes.worker_concurrency)
            self.warm_up()

    def scale_run(self) -> dict[str, Any]:
        events = self.sizes.scale_events
        self.reset()
        began = time.perf_counter()
        self._publish_backlog("bench.scale", events)
        ended = self._wait_delivered(events)
        wait_until(lambda: self._count_attempts() >= events, timeout=60, what="attempt rows")
        return {"deliveries": events, "per_second": events / (ended - began)}

    # -- scale out: routers ----------------------------------------------------------------
    @contextlib.contextmanager
    def routing_only(self) -> Iterator[Callable[[int], None]]:
        """Replace the router by routers whose tasks go to a queue no worker reads, with no
        limit on it (the workers stay idle, and no router pauses for them); ``use(n)`` runs n
        of them in the one consumer group."""
        assert self.router is not None
        self.services.stop(self.router)
        settings = self.config.settings(queue=self._routing_queue, max_queued_tasks=0)
        env = {**self._env(), **self.config.env(settings)}
        running: list[Child] = []

        def use(n: int) -> None:
            while len(running) < n:
                argv = [str(BIN / "eventrouter"), "router", "--log-level", "warning"]
                running.append(self.services.start(f"router-{len(running) + 1}", argv, env=env))
            while len(running) > n:
                self.services.stop(running.pop())
            self._reset_routing()
            # Every router has joined the group (its first read) and routed before timing.
            consumers = {f"{socket.gethostname()}-{child.pid}".encode() for child in running}
            wait_until(
                lambda: consumers <= self._group_consumers(),
                timeout=90,
                what=f"{n} router(s) reading the stream",
                check=self.services.check_alive,
                interval=0.1,
            )
            self._publish_backlog("bench.one", 10 * n)
            self._wait_routed(10 * n)

        try:
            yield use
        finally:
            for child in running:
                self.services.stop(child)
            self._delete_routing_queue()
            self.router = self.services.start(
                "router",
                [str(BIN / "eventrouter"), "router", "--log-level", "warning"],
                env=self._env(),
            )
            self.warm_up()

    @property
    def _routing_queue(self) -> str:
        return f"{self.config.key_prefix}-routing-only"

    def _group_consumers(self) -> set[bytes]:
        client = redis.Redis.from_url(self.config.redis_url)
        try:
            found = client.xinfo_consumers(self.settings.stream, GROUP)
        except redis.ResponseError:  # no stream or group yet
            return set()
        finally:
            client.close()
        return {bytes(consumer["name"]) for consumer in found}

    def _delete_routing_queue(self) -> None:
        client = redis.Redis.from_url(self.config.redis_url)
        client.delete(self._routing_queue)
        client.close()

    def _reset_routing(self) -> None:
        self.reset()
        self._delete_routing_queue()

    def _wait_routed(self, count: int) -> float:
        """Wait until the stream is empty: a router deletes entries in the MULTI that
        acknowledges them, after its commit, so by then every delivery is stored. (Counting
        delivery rows every 20 ms instead cost Postgres more than the routing did.)"""
        client = redis.Redis.from_url(self.config.redis_url)
        try:
            ended = wait_until(
                lambda: client.xlen(self.settings.stream) == 0,
                timeout=max(120.0, count / 50),
                what=f"{count} events routed",
                check=self.services.check_alive,
                interval=0.01,
            )
        finally:
            client.close()
        stored = scalar(self.engine, "SELECT count(*) FROM deliveries")
        if stored != count:
            raise RuntimeError(f"routing: expected {count} deliveries stored, found {stored}")
        return ended

    def routing_run(self, routers: int) -> dict[str, Any]:
        """Publish a backlog and time until every delivery is stored (none is sent): the
        routers' rate, and their CPU and Postgres's per event."""
        events = self.sizes.routing_events
        self._reset_routing()
        pids = [
            pid
            for child in self.services.children
            if child.name.startswith("router-")
            for pid in process_tree(child.pid)
        ]
        router_cpu = sum(cpu_seconds(pid) for pid in pids)
        postgres_cpu = sum(cpu_seconds(pid) for pid in self.postgres_pids())
        began = time.perf_counter()
        self._publish_backlog("bench.one", events)
        ended = self._wait_routed(events)
        router_cpu = sum(cpu_seconds(pid) for pid in pids) - router_cpu
        postgres_cpu = sum(cpu_seconds(pid) for pid in self.postgres_pids()) - postgres_cpu
        return {
            "routers": routers,
            "events": events,
            "per_second": events / (ended - began),
            "cpu_ms_per_event": {
                "router": router_cpu * 1000 / events,
                "postgres": postgres_cpu * 1000 / events,
            },
        }

    # -- memory over a backlog -----------------------------------------------------------
    def backlog(self) -> dict[str, Any]:
        """Publish a backlog as fast as possible and sample RSS while it drains."""
        self.reset()
        count = self.sizes.backlog
        samples: list[tuple[float, int, dict[str, int]]] = []
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                delivered = self.services.receiver_count()
                rss = {
                    name: sum(rss_bytes(pid) for pid in process_tree(child.pid))
                    for name, child in self.roles().items()
                    if name in ("router", "worker")
                }
                samples.append((time.perf_counter(), delivered, rss))
                stop.wait(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        began = time.perf_counter()
        sampler.start()
        try:
            self._publish_backlog("bench.one", count)
            published = time.perf_counter()
            ended = self._wait_delivered(count)
            wait_until(lambda: self._count_attempts() >= count, timeout=120, what="attempt rows")
        finally:
            stop.set()
            sampler.join()
        warm = next((s for s in samples if s[1] >= count * 0.1), samples[0])
        result: dict[str, Any] = {
            "events": count,
            "publish_seconds": published - began,
            "drain_per_second": count / (ended - began),
            "rss_mb": {},
        }
        for name in warm[2]:
            series = [s[2][name] for s in samples if s[0] >= warm[0]]
            start, peak, end = warm[2][name], max(series), series[-1]
            result["rss_mb"][name] = {
                "at_10pct": start / 2**20,
                "peak": peak / 2**20,
                "end": end / 2**20,
                "growth_pct": (peak - start) * 100 / start if start else float("nan"),
            }
        return result

    # -- profile -------------------------------------------------------------------------
    def profile(self, seconds: float = 12.0) -> dict[str, list[tuple[float, str]]]:
        """py-spy on the router and the worker during one more end-to-end run."""
        spy = shutil.which("py-spy", path=str(BIN)) or shutil.which("py-spy")
        if spy is None or self.router is None or self.worker is None:
            return {}
        out_dir = self.services.log_dir
        spies = {}
        for name, child in (("router", self.router), ("worker", self.worker)):
            path = out_dir / f"profile-{name}.txt"
            argv = [spy, "record", "--gil", "-r", "250", "-f", "raw", "-o", str(path)]
            argv += ["--subprocesses", "-d", str(int(seconds)), "-p", str(child.pid)]
            spies[name] = (
                subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE),
                path,
            )
        time.sleep(1.0)
        with contextlib.suppress(BenchTimeout, RuntimeError):
            self.throughput("bench.one", self.sizes.e2e, 1)
        tops: dict[str, list[tuple[float, str]]] = {}
        for name, (process, path) in spies.items():
            try:
                process.wait(seconds + 30)
            except subprocess.TimeoutExpired:
                process.kill()
            if path.exists():
                tops[name] = top_frames(path)
        return tops


def top_frames(path: Path, limit: int = 12) -> list[tuple[float, str]]:
    """The functions holding the most samples (own time) in a py-spy raw profile."""
    own: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit() or not stack:
            continue
        total += int(count)
        frame = stack.split(";")[-1]
        own[frame] = own.get(frame, 0) + int(count)
    ranked = sorted(own.items(), key=lambda item: -item[1])[:limit]
    return [(n * 100 / total, frame) for frame, n in ranked] if total else []


def sizes_dict(sizes: Sizes) -> dict[str, Any]:
    return asdict(sizes)
