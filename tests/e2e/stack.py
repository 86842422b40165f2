"""A running eventrouter for end-to-end tests: real ``eventrouter router`` and worker
subprocesses on a private database, stream and queue, driven through the real CLI.

    with Stack.start(tmp_path) as stack:
        stack.cli("channels", "add", "payments", "--pattern", "payment:.*")
        ...
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import Engine, text

from eventrouter.router.db import make_engine, reset
from eventrouter.router.db.migrate import drop_database
from eventrouter.router.settings import Settings
from tests import databases
from tests.helpers import SECRET_KEY
from tests.receiver import wait_for

BIN = Path(sys.executable).parent
POSTGRES_SERVER_URL = os.environ.get(
    "ER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432"
).rstrip("/")
REDIS_URL = os.environ.get("ER_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")

FAST_TIMINGS = {
    "EVENTROUTER_ROUTER_BLOCK_MS": "100",
    "EVENTROUTER_SCHEDULER_INTERVAL_SECONDS": "0.2",
    "EVENTROUTER_CONFIG_REFRESH_SECONDS": "0.5",
    "EVENTROUTER_DISPATCH_GRACE_SECONDS": "10",
    "EVENTROUTER_REQUEST_TIMEOUT_SECONDS": "5",
    "EVENTROUTER_RETRY_SCHEDULE": "1s,1s",
}


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    since: int = 0
    """Where ``recent()`` starts: the log's length at the last ``Stack.reset()``."""

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def recent(self) -> str:
        """The output since the last reset: what the current test caused."""
        if not self.log.exists():
            return ""
        with self.log.open("rb") as handle:
            handle.seek(self.since)
            return handle.read().decode(errors="replace")

    def mark(self) -> None:
        self.since = self.log.stat().st_size if self.log.exists() else 0

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, then SIGKILL if it does not exit in time; return the exit code."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        return self.popen.returncode


@dataclass
class Stack:
    """A private database + stream + queue, with router/worker processes on them."""

    workdir: Path
    database_url: str
    stream: str
    queue: str
    extra_env: dict[str, str] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    engine: Engine = field(init=False)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.database_url)

    # -- lifecycle -------------------------------------------------------------------
    @classmethod
    def create(cls, workdir: Path, **extra_env: str) -> Stack:
        url = f"{POSTGRES_SERVER_URL}/er_e2e_{secrets.token_hex(5)}"
        databases.create_migrated(url)
        token = secrets.token_hex(5)
        return cls(workdir, url, f"ertest:{token}:events", f"ertest-{token}", dict(extra_env))

    def destroy(self) -> None:
        for process in self.processes:
            process.stop(timeout=10)
        self.engine.dispose()
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=f"*{self.stream.split(':')[1]}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
        drop_database(self.database_url)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTROUTER_")}
        env.update(FAST_TIMINGS)
        env.update(
            EVENTROUTER_DATABASE_URL=self.database_url,
            EVENTROUTER_REDIS_URL=REDIS_URL,
            EVENTROUTER_STREAM=self.stream,
            EVENTROUTER_QUEUE=self.queue,
            EVENTROUTER_ORG="default",
            EVENTROUTER_SECRET_KEY=SECRET_KEY,
            EVENTROUTER_SECRET_KEY_FILE="/nonexistent/eventrouter-test-key",
            EVENTROUTER_ALLOWED_NETWORKS="127.0.0.0/8",
        )
        env.update(self.extra_env)
        return env

    @property
    def settings(self) -> Settings:
        values = {
            k.removeprefix("EVENTROUTER_").lower(): v
            for k, v in self.env.items()
            if k.startswith("EVENTROUTER_")
        }
        return Settings(**values)

    def spawn(self, name: str, argv: Sequence[str], ready: str | None = None) -> Process:
        log = self.workdir / f"{name}-{len(self.processes)}.log"
        handle = log.open("wb")
        popen = subprocess.Popen(list(argv), env=self.env, stdout=handle, stderr=handle)
        process = Process(name, popen, log)
        self.processes.append(process)
        if ready is not None:
            wait_for(
                lambda: ready in process.output() or popen.poll() is not None,
                timeout=60,
                message=f"{name} to log {ready!r}",
            )
            assert popen.poll() is None, f"{name} exited early:\n{process.output()[-3000:]}"
        return process

    def start_router(self) -> Process:
        return self.spawn("router", [str(BIN / "eventrouter"), "router"], ready="routing table")

    def start_worker(self, *extra: str, concurrency: int = 2) -> Process:
        return self.spawn(
            "worker",
            [str(BIN / "eventrouter"), "worker", "--concurrency", str(concurrency), *extra],
            ready=" ready.",
        )

    def start_api(self, *extra: str) -> tuple[Process, str]:
        """``eventrouter api`` on a free loopback port; the process and its base URL."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        process = self.spawn(
            "api",
            [str(BIN / "eventrouter"), "api", "--port", str(port), *extra],
            ready="Application startup complete",
        )
        return process, f"http://127.0.0.1:{port}"

    def stop(self, process: Process, timeout: float = 20) -> int:
        """Stop one process and forget it; its exit code."""
        code = process.stop(timeout)
        self.processes.remove(process)
        return code

    def logs(self) -> str:
        """Each process's output since the last reset (its last 4000 characters)."""
        return "\n".join(f"--- {p.name} ---\n{p.recent()[-4000:]}" for p in self.processes)

    # -- driving it --------------------------------------------------------------------
    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(BIN / "eventrouter"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"eventrouter {' '.join(args)} exited {result.returncode}: {result.stderr}"
            )
        return result

    def rows(self, statement: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(statement), params))

    def scalar(self, statement: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(statement), params).scalar()

    def wait_settled(self, expected_events: int, timeout: float = 60) -> None:
        """Until ``expected_events`` events are stored and none has an open delivery."""

        def settled() -> bool:
            stored = self.scalar("SELECT count(*) FROM events")
            open_ = self.scalar(
                "SELECT count(*) FROM deliveries WHERE status IN ('pending', 'delivering')"
            )
            return bool(stored >= expected_events and open_ == 0)

        try:
            wait_for(settled, timeout=timeout, message="deliveries to settle")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None

    def wait_config_applied(self, timeout: float = 2.0) -> None:
        """Until every running router logged loading the current config version.

        The README promises changes apply within 2 s; that is the default timeout.
        """
        version = self.scalar("SELECT version FROM config_version")
        routers = [p for p in self.processes if p.name == "router" and p.popen.poll() is None]
        wait_for(
            lambda: all(f"(config version {version})" in p.output() for p in routers),
            timeout=timeout,
            message=f"routers to load config version {version}",
        )

    def reset(self) -> None:
        """Empty data and configuration between tests (the processes keep running).

        Destination ids go on counting, as in production where no id is used twice: the
        running worker remembers a destination's name (and pacing) by id, and a restarted
        id would show it an earlier test's destination.
        """
        for process in self.processes:
            process.mark()
        sequence = "pg_get_serial_sequence('destinations', 'id')"
        last = self.scalar(f"SELECT pg_sequence_last_value({sequence})")
        reset.truncate(self.engine)
        if last is not None:  # NULL: no destination was ever made
            with self.engine.begin() as conn:
                conn.execute(text(f"SELECT setval({sequence}, :last)"), {"last": last})
