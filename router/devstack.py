"""``eventrouter dev``: everything on one machine, in one command, with one log.

Postgres and Redis are used where they answer, else started privately in the data folder
(``devservices``); then the schema is migrated and a router and a worker run until Ctrl-C,
which stops the router and worker first (each drains as on SIGTERM), then the servers.
The data stays in the folder for next time.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from eventrouter.router.devservices import (
    ServerPlan,
    answers,
    plan_postgres,
    plan_redis,
    postgres_address,
    prepare_data_dir,
    redis_address,
)
from eventrouter.router.errors import ConfigError
from eventrouter.router.settings import Settings
from eventrouter.router.supervisor import SharedLog, Supervisor

SERVER_START_SECONDS = 60.0
PROCESS_START_SECONDS = 60.0
APP_PROCESSES = ("api", "router", "worker")
READY_LINE = "eventrouter dev is running"
"""The banner's last line, printed once everything is up; scripts (``make demo``) wait for it."""


@dataclass(frozen=True)
class DevOptions:
    data_dir: Path
    services_only: bool = False
    worker_concurrency: int = 2
    api_port: int | None = 8080
    """Where ``eventrouter api`` listens (on 127.0.0.1); None runs no API."""


class DevStack:
    """Runs the stack until a signal; ``run()`` returns the exit code."""

    def __init__(
        self, settings: Settings, options: DevOptions, echo: Callable[[str], None]
    ) -> None:
        self.settings = settings
        self.options = options
        self.echo = echo
        self.log = SharedLog(options.data_dir / "dev.log", echo)
        self.supervisor = Supervisor(self.log)
        self.servers: list[ServerPlan] = []
        self.stop = threading.Event()
        self._signals = 0

    def plan_servers(self) -> list[ServerPlan]:
        """A private server for each configured URL where nothing answers."""
        data = self.options.data_dir
        plans = []
        if not answers(postgres_address(self.settings.database_url)):
            plans.append(plan_postgres(self.settings.database_url, data / "postgres"))
        seen = set()
        for url in (self.settings.redis_url, self.settings.celery_broker_url):
            address = redis_address(url)
            if address is None or address in seen:
                continue  # Sentinel or a socket: nothing this command could start
            seen.add(address)
            if not answers(address):
                plans.append(plan_redis(url, data / f"redis-{address.port}"))
        return plans

    def run(self) -> int:
        self._install_signal_handlers()
        try:
            self.servers = self.plan_servers()
            for plan in self.servers:
                self._start_server(plan)
            if not self.options.services_only:
                self._start_app()
            self._banner()
            return self._watch()
        except ConfigError as exc:
            self.log.line("dev", f"error: {exc}")
            return 2
        finally:
            self._shutdown()
            self.log.close()

    # -- starting ----------------------------------------------------------------
    def _start_server(self, plan: ServerPlan) -> None:
        self.log.line(
            "dev", f"nothing answers at {plan.url}: starting {plan.name} from {plan.origin}"
        )
        prepare_data_dir(plan)
        for command in plan.prepare:
            child = self.supervisor.start(f"{plan.name}", command, user=plan.user)
            if child.process.wait() != 0:
                raise ConfigError(f"{plan.name} setup failed ({' '.join(command[:1])}); see above")
            self.supervisor.children.remove(child)
        child = self.supervisor.start(
            plan.name,
            plan.argv,
            user=plan.user,
            stop_signal=plan.stop_signal,
            ready_marker=plan.ready_marker,
        )
        self._wait_ready(plan.name, child.ready, SERVER_START_SECONDS)
        deadline = time.monotonic() + SERVER_START_SECONDS
        while not answers(plan.address) and time.monotonic() < deadline:
            self._check_alive()
            time.sleep(0.1)

    def _start_app(self) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        command = [sys.executable, "-m", "eventrouter.router.cli"]
        if self.supervisor.run("migrate", [*command, "db", "upgrade"], env=env) != 0:
            raise ConfigError("the schema migration failed (see above)")
        self.supervisor.start(
            "router",
            [*command, "router"],
            env=env,
            ready_marker="reading",
            grace_seconds=self.settings.router_block_ms / 1000 + 30,
        )
        worker = self.supervisor.start(
            "worker",
            [*command, "worker", "--concurrency", str(self.options.worker_concurrency)],
            env=env,
            ready_marker=" ready.",
            grace_seconds=self.settings.delivery_time_box_seconds
            + self.settings.request_timeout_seconds
            + 10,
        )
        api = None
        if self.options.api_port is not None:
            api = self.supervisor.start(
                "api",
                [*command, "api", "--host", "127.0.0.1", "--port", str(self.options.api_port)],
                env=env,
                ready_marker="Application startup complete",
                grace_seconds=40,
            )
        self._wait_ready("worker", worker.ready, PROCESS_START_SECONDS)
        if api is not None:
            self._wait_ready("api", api.ready, PROCESS_START_SECONDS)

    def _wait_ready(self, name: str, ready: threading.Event, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready.wait(0.1):
            self._check_alive()
            if self.stop.is_set():
                raise ConfigError(f"stopped while {name} was starting")
            if time.monotonic() > deadline:
                raise ConfigError(f"{name} did not start within {timeout:g}s (see the log above)")

    def _check_alive(self) -> None:
        ended = self.supervisor.first_exited()
        if ended is not None:
            code = ended.process.returncode
            raise ConfigError(f"{ended.name} exited with code {code} (see the log above)")

    # -- running ---------------------------------------------------------------------
    def _banner(self) -> None:
        data = self.options.data_dir
        lines = [""]
        from eventrouter.router.db.engine import safe_url
        from eventrouter.router.redis_conn import safe_redis_url

        where = {plan.name: f"started here, data in {plan.data_dir}" for plan in self.servers}
        pg, rd = where.get("postgres", "yours"), where.get("redis", "yours")
        lines += [
            f"  Postgres  {safe_url(self.settings.database_url)}  ({pg})",
            f"  Redis     {safe_redis_url(self.settings.redis_url)}  ({rd})",
            f"  Log       {self.log.path}",
        ]
        api = self.options.api_port
        if api is not None and not self.options.services_only:
            lines.append(f"  API       http://127.0.0.1:{api}/docs  (OpenAPI at /openapi.json)")
        lines.append("")
        if not self.options.services_only:
            lines += [
                "In another terminal (same EVENTROUTER_* settings), route an event to a webhook:",
                "  eventrouter channels add payments --pattern 'payment:.*'",
                "  eventrouter destinations add hook --type webhook --url https://example.com/hook",
                "  eventrouter subscriptions add pay-hook --channel payments --destination hook",
                '  eventrouter send payment:failed --payload \'{"invoice": "in_1"}\'',
                "  eventrouter history        # then: eventrouter show EVENT_ID",
            ]
            if api is not None:
                lines += [
                    "and over HTTP, with a token:",
                    "  eventrouter users add you@example.com --role admin",
                    "  eventrouter tokens create --user you@example.com   # prints er_… once",
                    f"  curl -H 'Authorization: Bearer er_…' http://127.0.0.1:{api}/v1/channels",
                ]
        lines += ["", f"{READY_LINE}: Ctrl-C stops everything; the data stays in {data}/"]
        for line in lines:
            self.echo(line)

    def _watch(self) -> int:
        while not self.stop.wait(0.5):
            ended = self.supervisor.first_exited()
            if ended is not None:
                self.log.line(
                    "dev",
                    f"{ended.name} exited with code {ended.process.returncode}; stopping "
                    "everything",
                )
                return 1
        return 0

    # -- stopping ---------------------------------------------------------------------
    def _install_signal_handlers(self) -> None:
        def _on_signal(signum: int, _frame: FrameType | None) -> None:
            self._signals += 1
            if self._signals == 1:
                self.log.line("dev", "stopping: router and worker finish their work first")
                self.stop.set()
            else:
                self.log.line("dev", "second signal: killing everything now")
                self.supervisor.kill_all()

        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, _on_signal)

    def _shutdown(self) -> None:
        self.supervisor.stop(APP_PROCESSES)
        self.supervisor.stop([plan.name for plan in self.servers])
        self.supervisor.stop([child.name for child in list(self.supervisor.children)])
        self.log.line("dev", "stopped")
