"""Real parts for fault tests: a private Redis, a private Postgres cluster or database,
router and worker subprocesses, a steady publisher, and the checks every fault test ends
with.

Every process is started in its own session so a test can kill it (and its children)
with ``kill -9`` exactly as an outage would, and every process is stopped at the end by
its own pid.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
from sqlalchemy import Engine, text

from eventrouter import PublishError, Settings, publish, publish_many
from eventrouter.router.control import Caller, Control
from eventrouter.router.db import make_engine
from eventrouter.router.db.migrate import upgrade
from eventrouter.router.models.configuration import ChannelIn, DestinationIn, SubscriptionIn
from tests.helpers import SECRET_KEY
from tests.receiver import Receiver, Request, Response

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
SHARED_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

# Short timings so each fault heals in seconds (production defaults are minutes).
FAST_SETTINGS = {
    "EVENTROUTER_LEASE_SECONDS": "3",
    "EVENTROUTER_CLAIM_IDLE_SECONDS": "3",
    "EVENTROUTER_DISPATCH_GRACE_SECONDS": "3",
    "EVENTROUTER_SCHEDULER_INTERVAL_SECONDS": "0.5",
    "EVENTROUTER_CONFIG_REFRESH_SECONDS": "0.5",
    "EVENTROUTER_REQUEST_TIMEOUT_SECONDS": "2",
    "EVENTROUTER_DELIVERY_TIME_BOX_SECONDS": "2",
    "EVENTROUTER_RETRY_SCHEDULE": "1s,1s,1s,2s,2s,2s,3s,3s,3s,3s,5s,5s,5s,5s,5s",
    "EVENTROUTER_WORKER_CONCURRENCY": "2",
    "EVENTROUTER_ROUTER_BLOCK_MS": "200",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.2
) -> float:
    """Poll until ``predicate()`` is truthy; return the seconds it took."""
    began = time.monotonic()
    deadline = began + timeout
    while True:
        try:
            if predicate():
                return time.monotonic() - began
        except Exception:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


# -- services ------------------------------------------------------------------------------
class RedisServer:
    """A private redis-server with AOF, so a test may stop, kill and restart it."""

    def __init__(self, workdir: Path, *, appendonly: bool = True) -> None:
        self.port = free_port()
        self.dir = workdir / "redis"
        self.dir.mkdir()
        self.appendonly = appendonly
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(self.dir), "--save", ""]
        if self.appendonly:
            args += ["--appendonly", "yes", "--appendfsync", "everysec"]
        log = open(self.dir / "redis.log", "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, start_new_session=True)
        client = redis.Redis(port=self.port, socket_connect_timeout=1)
        wait_for(lambda: client.ping(), 30, f"redis on port {self.port}", 0.05)
        client.close()

    def stop(self) -> None:
        """A clean stop: SHUTDOWN fsyncs the AOF before exiting."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


class PostgresCluster:
    """A private Postgres cluster, so a test may stop it without touching the shared one."""

    def __init__(self, workdir: Path) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
        if not bins:
            raise RuntimeError("no /usr/lib/postgresql/*/bin: install Postgres server binaries")
        self.bin = Path(bins[-1])
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="chaos-pg-"))
        self.data = self.root / "data"
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            shutil.chown(self.root, "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/eventrouter"

    def _run(self, *args: str | Path) -> None:
        cmd = [str(a) for a in args]
        if self._as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def init(self) -> None:
        self._run(
            self.bin / "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync"
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=200"
        )
        self._run(
            self.bin / "pg_ctl", "-D", str(self.data), "-o", options,
            "-l", str(self.root / "log"), "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        self._run(self.bin / "pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """Create ``name`` on the server of ``server_url``; return its SQLAlchemy URL."""
    base = server_url.rsplit("/", 1)[0]
    dsn = base.replace("postgresql+psycopg", "postgresql") + "/postgres"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def drop_database(url: str) -> None:
    base, name = url.rsplit("/", 1)
    dsn = base.replace("postgresql+psycopg", "postgresql") + "/postgres"
    with contextlib.suppress(psycopg.Error), psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- processes -----------------------------------------------------------------------------
class Proc:
    """One router or worker subprocess, in its own session, logging to a file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log_path = log
        self._log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            args, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill9(self) -> None:
        """``kill -9`` the process and everything it started (a Celery worker's pool too)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)
        self.popen.wait(30)

    def terminate(self, *, group: bool = False) -> None:
        """SIGTERM to the process (or to its whole process group, as systemd does)."""
        with contextlib.suppress(ProcessLookupError):
            if group:
                os.killpg(self.pid, signal.SIGTERM)
            else:
                self.popen.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        return self.popen.wait(timeout)

    def stop(self) -> None:
        if self.alive():
            self.terminate()
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.kill9()
        else:  # reap any pool processes a killed parent left behind
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        self._log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@dataclass
class Stack:
    """Settings, env and processes of one eventrouter installation under test."""

    workdir: Path
    redis_url: str
    database_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.env = {
            **os.environ,
            **FAST_SETTINGS,
            "EVENTROUTER_REDIS_URL": self.redis_url,
            "EVENTROUTER_DATABASE_URL": self.database_url,
            "EVENTROUTER_SECRET_KEY": SECRET_KEY,
            "EVENTROUTER_SECRET_KEY_FILE": "/nonexistent/eventrouter-test-key",
            "EVENTROUTER_ALLOWED_NETWORKS": "127.0.0.0/8",
            **self.extra_env,
        }
        self.env.pop("EVENTROUTER_BROKER_URL", None)
        self.settings = Settings(
            database_url=self.database_url,
            redis_url=self.redis_url,
            publish_retries=3,
            secret_key=SECRET_KEY,
            secret_key_file="/nonexistent/eventrouter-test-key",
            allowed_networks="127.0.0.0/8",
            **{
                k.removeprefix("EVENTROUTER_").lower(): v
                for k, v in {**FAST_SETTINGS, **self.extra_env}.items()
                if k.startswith("EVENTROUTER_") and k not in ("EVENTROUTER_REDIS_URL",)
            },
        )
        self.engine: Engine = make_engine(self.database_url, pool_size=2)

    def migrate(self) -> None:
        upgrade(self.database_url)

    @property
    def admin(self) -> Control:
        return Control(self.engine, self.settings, Caller(org=self.settings.org))

    def _start(self, kind: str, failpoint: str | None, extra: list[str]) -> Proc:
        env = dict(self.env)
        if failpoint:
            env["CHAOS_FAILPOINT"] = failpoint
            args = [sys.executable, str(HERE / "launch.py"), kind, *extra]
        else:
            args = [str(BIN / "eventrouter"), kind, *extra]
        index = sum(1 for p in self.procs if p.name.startswith(kind))
        proc = Proc(f"{kind}{index}", args, env, self.workdir / f"{kind}{index}.log")
        self.procs.append(proc)
        return proc

    def start_router(self, failpoint: str | None = None) -> Proc:
        return self._start("router", failpoint, [])

    def start_worker(self, failpoint: str | None = None, concurrency: int = 2) -> Proc:
        return self._start("worker", failpoint, ["--concurrency", str(concurrency)])

    def wait_worker_ready(self, proc: Proc, timeout: float = 60) -> None:
        wait_for(lambda: " ready." in proc.output(), timeout, f"{proc.name} to be ready", 0.2)

    def stop_all(self) -> None:
        for proc in self.procs:
            proc.stop()
        self.engine.dispose()

    def logs(self) -> str:
        return "\n".join(f"===== {p.name} =====\n{p.output()[-6000:]}" for p in self.procs)

    # -- routing config ------------------------------------------------------------------
    def route(self, channel: str, pattern: str, destinations: dict[str, str]) -> None:
        """One channel, webhook destinations ``name → url``, one subscription to all."""
        admin = self.admin
        admin.channels.add(ChannelIn(name=channel, pattern=pattern))
        for name, url in destinations.items():
            admin.destinations.add(DestinationIn(name=name, type="webhook", config={"url": url}))
        admin.subscriptions.add(
            SubscriptionIn(
                name=f"{channel}-sub", channels=[channel], destinations=list(destinations)
            )
        )

    # -- inspection ----------------------------------------------------------------------
    def scalar(self, statement: str, **params: object) -> object:
        with self.engine.connect() as conn:
            return conn.execute(text(statement), params).scalar()

    def rows(self, statement: str, **params: object) -> list[tuple[object, ...]]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(statement), params)]

    def wait_delivered(self, keys: list[str], message: str, timeout: float = 120) -> None:
        """Until every event published under ``keys`` has a succeeded delivery."""

        def delivered() -> bool:
            count = self.scalar(
                """
                SELECT count(*) FROM events e JOIN deliveries d ON d.event_id = e.id
                WHERE e.idempotency_key = ANY(:keys) AND e.duplicate_of IS NULL
                  AND d.status = 'succeeded'
                """,
                keys=keys,
            )
            return count == len(keys)

        wait_for(delivered, timeout, message)

    def status_counts(self) -> dict[str, int]:
        return {
            str(s): int(n)  # type: ignore[call-overload]
            for s, n in self.rows("SELECT status, count(*) FROM deliveries GROUP BY status")
        }


# -- load --------------------------------------------------------------------------------
class Publisher(threading.Thread):
    """Publishes ``rate`` events per second until stopped, like a busy producer.

    Events go out with ``publish_many`` in groups of ``batch`` (every ``batch / rate``
    seconds), or one ``publish()`` call each when ``batch`` is 1. Each event carries an
    idempotency key; when publishing raises ``PublishError`` the publisher retries the
    same keys (as a producer should), so a publish that reached Redis before the error
    is stored once and its retry is recorded as a duplicate.
    """

    def __init__(
        self, settings: Settings, *, rate: float = 250, batch: int = 25, name: str = "chaos:tick"
    ) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.rate = rate
        self.batch = batch
        self.event_name = name
        self.stop_event = threading.Event()
        self.ids: list[str] = []
        self.keys: list[str] = []
        self.errors: list[tuple[float, str]] = []
        self.published_at: dict[str, float] = {}
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as exc:  # surfaced by stop()
            self.failure = exc

    def _send(self, keys: list[str], seq: int) -> list[str]:
        if self.batch == 1:
            key = keys[0]
            payload = {"seq": seq, "key": key}
            return [publish(self.event_name, payload, idempotency_key=key, settings=self.settings)]
        return publish_many(
            [
                {"name": self.event_name, "payload": {"seq": seq + i}, "idempotency_key": key}
                for i, key in enumerate(keys)
            ],
            settings=self.settings,
        )

    def _run(self) -> None:
        interval = self.batch / self.rate
        next_at = time.monotonic()
        seq = 0
        while not self.stop_event.is_set():
            keys = [f"k-{uuid.uuid4().hex}" for _ in range(self.batch)]
            while True:
                try:
                    ids = self._send(keys, seq)
                    break
                except PublishError as exc:
                    self.errors.append((time.monotonic(), str(exc)))
                    if self.stop_event.wait(0.2):
                        return
            now = time.monotonic()
            self.ids.extend(ids)
            self.keys.extend(keys)
            for event_id in ids:
                self.published_at[event_id] = now
            seq += self.batch
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                self.stop_event.wait(delay)
            elif delay < -1:
                next_at = time.monotonic()

    def stop(self) -> None:
        self.stop_event.set()
        self.join(30)
        if self.failure:
            raise self.failure


@contextlib.contextmanager
def publishing(settings: Settings, **kwargs: object) -> Iterator[Publisher]:
    publisher = Publisher(settings, **kwargs)  # type: ignore[arg-type]
    publisher.start()
    try:
        yield publisher
    finally:
        publisher.stop()


# -- the checks every fault test ends with --------------------------------------------------
@dataclass
class Verdict:
    published: int
    deliveries: int
    duplicate_requests: int
    """Requests beyond the first per (destination, webhook-id), retries after errors too."""
    duplicate_accepts: int
    """2xx answers beyond the first per (destination, webhook-id): what a receiver dedupes."""
    drain_seconds: float


class Hold:
    """A receiver behaviour that parks every request until ``release()``, then answers 200:
    the worker that sent it is provably in the middle of a batch."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self._lock = threading.Lock()
        self.held = 0

    def __call__(self, request: Request, seen: int) -> Response:
        with self._lock:
            self.held += 1
        self.released.wait(120)
        return Response(200, b"ok")

    def release(self) -> None:
        self.released.set()


def answer(response: Response) -> Callable[[Request, int], Response]:
    """A receiver behaviour giving ``response`` to every request."""
    return lambda _request, _seen: response


OK = Response(200, b"ok")


def assert_nothing_lost(
    stack: Stack,
    publisher: Publisher,
    receiver: Receiver,
    *,
    paths: Sequence[str] = ("/hook",),
    timeout: float = 120,
) -> Verdict:
    """Every published event stored exactly once; every delivery ``succeeded``; every one
    of them accepted by the receiver at each destination's path."""
    destinations = len(paths)
    expected = len(publisher.ids)
    keys = publisher.keys

    def drained() -> bool:
        row = stack.rows(
            """
            SELECT count(*) FILTER (WHERE d.status = 'succeeded'), count(d.id)
            FROM events e LEFT JOIN deliveries d ON d.event_id = e.id
            WHERE e.idempotency_key = ANY(:keys) AND e.duplicate_of IS NULL
            """,
            keys=keys,
        )[0]
        return row[0] == row[1] == expected * destinations

    try:
        drain = wait_for(drained, timeout, "every delivery to succeed", 0.5)
    except AssertionError:
        print(stack.status_counts())
        print(stack.logs())
        raise
    # Exactly once: one original event per published key, none missing, none doubled.
    per_key = dict(
        stack.rows(  # type: ignore[arg-type]
            """
            SELECT idempotency_key, count(*) FROM events
            WHERE idempotency_key = ANY(:keys) AND duplicate_of IS NULL
            GROUP BY idempotency_key
            """,
            keys=keys,
        )
    )
    assert len(per_key) == expected, f"{expected - len(per_key)} published events missing"
    assert set(per_key.values()) == {1}
    stored_ids = {
        str(r[0])
        for r in stack.rows(
            "SELECT id FROM events WHERE id = ANY(CAST(:ids AS uuid[]))", ids=publisher.ids
        )
    }
    assert stored_ids == set(publisher.ids), "an id returned by publish() is not in events"
    states = stack.rows(
        """
        SELECT d.status, count(*) FROM deliveries d JOIN events e ON e.id = d.event_id
        WHERE e.idempotency_key = ANY(:keys) GROUP BY d.status
        """,
        keys=keys,
    )
    assert dict(states) == {"succeeded": expected * destinations}  # type: ignore[arg-type]
    originals = {
        str(r[0])
        for r in stack.rows(
            "SELECT id FROM events WHERE idempotency_key = ANY(:keys) AND duplicate_of IS NULL",
            keys=keys,
        )
    }
    for path in paths:
        missing = originals - receiver.accepted_ids(path)
        assert not missing, f"{len(missing)} deliveries marked succeeded never reached {path}"
    return Verdict(
        expected,
        expected * destinations,
        receiver.repeated_requests(),
        receiver.repeated_accepts(),
        drain,
    )


def report(title: str, **figures: object) -> None:
    """Print a figure line the README's Reliability table is built from (``pytest -s``)."""
    shown = ", ".join(
        f"{k}={v:.2f}s" if isinstance(v, float) else f"{k}={v}" for k, v in figures.items()
    )
    print(f"\n[chaos] {title}: {shown}")
