"""The benchmark's own Postgres database, Redis keys and child processes.

Everything the benchmark starts is registered on a ``Services`` object and stopped by
``close()`` (SIGTERM, then SIGKILL after a grace period), which runs on normal exit, on
an exception and on SIGINT/SIGTERM of the harness. Nothing here touches user data: the
database is ``eventrouter_bench`` (dropped and recreated per run), Redis keys all start
with ``bench`` on Redis db 14, and the queues are named ``bench-…``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import make_url

from eventrouter.router.db import migrate
from eventrouter.router.db.migrate import create_database_if_missing, upgrade
from eventrouter.router.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
LOG_DIR = Path(os.environ.get("BENCH_LOG_DIR", ROOT / "bench" / "logs"))


@dataclass(frozen=True)
class BenchConfig:
    """Where the benchmark's services live; override with ``BENCH_*`` variables."""

    postgres_server: str = os.environ.get(
        "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432"
    ).rstrip("/")
    database: str = os.environ.get("BENCH_DATABASE", "eventrouter_bench")
    redis_url: str = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    key_prefix: str = os.environ.get("BENCH_KEY_PREFIX", "bench")

    @property
    def database_url(self) -> str:
        return f"{self.postgres_server}/{self.database}"

    @property
    def stream(self) -> str:
        return f"{self.key_prefix}:events"

    @property
    def queue(self) -> str:
        return f"{self.key_prefix}-deliver"

    @property
    def baseline_queue(self) -> str:
        return f"{self.key_prefix}-naive"

    def settings(self, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": self.database_url,
            "redis_url": self.redis_url,
            "stream": self.stream,
            "queue": self.queue,
            "config_refresh_seconds": 0.2,
            "retry_schedule": "1s,2s,4s",
            # The backlog case publishes 1,000,000 events faster than they drain.
            "stream_max_length": 10_000_000,
            # The receiver is on loopback, which the SSRF guard refuses unless allowed.
            "allowed_networks": "127.0.0.0/8",
        }
        values.update(overrides)
        return Settings(**values)

    def env(self, settings: Settings) -> dict[str, str]:
        """The environment of an eventrouter child process running with ``settings``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTROUTER_")}
        for name, value in settings.model_dump().items():
            if value is not None:
                env[f"EVENTROUTER_{name.upper()}"] = str(value)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        return env


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Services:
    """The child processes of one benchmark run; ``close()`` stops every one of them."""

    config: BenchConfig
    children: list[Child] = field(default_factory=list)
    receiver_port: int = 0
    log_dir: Path = LOG_DIR

    # -- processes -------------------------------------------------------------------
    def start(self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{name}.log"
        log = log_path.open("wb")
        process = subprocess.Popen(
            list(argv),
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
            start_new_session=True,  # a process group per child: stop() reaches its pool too
        )
        log.close()
        child = Child(name, process, log_path)
        self.children.append(child)
        return child

    def stop(self, child: Child, *, grace: float = 10.0) -> None:
        if child.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGTERM)
            try:
                child.process.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.process.wait(5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.pid, signal.SIGKILL)  # leftovers of the group (pool children)
        if child in self.children:
            self.children.remove(child)

    def close(self) -> None:
        for child in reversed(list(self.children)):
            self.stop(child)

    def check_alive(self) -> None:
        for child in self.children:
            if child.process.poll() is not None:
                raise RuntimeError(
                    f"{child.name} exited with {child.process.returncode}; "
                    f"last lines of {child.log_path}:\n{child.tail()}"
                )

    # -- the receiver ----------------------------------------------------------------
    def start_receiver(self) -> None:
        child = self.start(
            "receiver",
            [sys.executable, "-u", "-m", "bench.receiver", "--port", "0"],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            for line in child.log_path.read_text(errors="replace").splitlines():
                if line.startswith("listening "):
                    self.receiver_port = int(line.split()[1])
                    return
            self.check_alive()
            time.sleep(0.05)
        raise RuntimeError("the receiver did not start within 15 s")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.receiver_port}{path}"

    def receiver_stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.url("/_stats"), timeout=30) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def receiver_count(self, prefix: str = "") -> int:
        """Requests received so far (only paths starting with ``prefix`` if given)."""
        with urllib.request.urlopen(self.url("/_count" + prefix), timeout=10) as response:
            return int(response.read())

    def reset_receiver(self) -> None:
        request = urllib.request.Request(self.url("/_reset"), method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10):
            pass


# -- Postgres and Redis ----------------------------------------------------------------
def maintenance_dsn(config: BenchConfig) -> str:
    return migrate.maintenance_dsn(config.database_url)


def psycopg_dsn(config: BenchConfig) -> str:
    url = make_url(config.database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def fresh_database(config: BenchConfig) -> None:
    """Drop and recreate the benchmark database, then migrate it."""
    drop_database(config)
    create_database_if_missing(config.database_url)
    upgrade(config.database_url)


def drop_database(config: BenchConfig) -> None:
    migrate.drop_database(config.database_url)


def clear_redis(config: BenchConfig) -> None:
    """Delete the benchmark's keys: its stream, its queues and their Celery bindings."""
    client = redis.Redis.from_url(config.redis_url)
    try:
        patterns = [f"{config.key_prefix}*", f"_kombu.binding*.{config.key_prefix}*"]
        keys = [key for pattern in patterns for key in client.scan_iter(match=pattern, count=1000)]
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


@contextlib.contextmanager
def running(config: BenchConfig) -> Iterator[Services]:
    """A ``Services`` whose children are stopped however the block ends."""
    services = Services(config)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}

    def _terminate(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in previous:
        signal.signal(sig, _terminate)
    try:
        yield services
    finally:
        services.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
