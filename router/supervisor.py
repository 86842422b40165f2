"""A small process supervisor for ``eventrouter dev``: children with one shared log.

Each child runs in its own session, so a Ctrl-C in the terminal reaches only
``eventrouter dev``, which then stops the children in the order it chooses (the
processes that use Postgres and Redis first, the servers last) instead of everything
at once. Every line a child prints goes to one log, prefixed with the child's name.
"""

from __future__ import annotations

import os
import pwd
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


class SharedLog:
    """One log for every child: written to the terminal and appended to a file."""

    def __init__(self, path: Path, echo: Callable[[str], None]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = path.open("a", encoding="utf-8", buffering=1)
        self._echo = echo
        self._lock = threading.Lock()
        self.path = path

    def line(self, source: str, text: str) -> None:
        stamped = f"{time.strftime('%H:%M:%S')} {source:<9}| {text}"
        with self._lock:
            self._echo(stamped)
            self._file.write(stamped + "\n")

    def close(self) -> None:
        self._file.close()


@dataclass
class Child:
    """A running process, its stop signal and how long it may take to stop."""

    name: str
    process: subprocess.Popen[str]
    stop_signal: int
    grace_seconds: float
    ready_marker: str | None
    ready: threading.Event = field(default_factory=threading.Event)
    pump: threading.Thread | None = None

    def alive(self) -> bool:
        return self.process.poll() is None


class Supervisor:
    """Starts children, pumps their output into the log, stops them group by group."""

    def __init__(self, log: SharedLog) -> None:
        self.log = log
        self.children: list[Child] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
        grace_seconds: float = 30.0,
        ready_marker: str | None = None,
    ) -> Child:
        """Start ``argv``; ``ready`` is set when a line contains ``ready_marker``. With
        ``user`` (root only), the child runs as that user, in its group alone: root's
        groups would decide its access to root's folders."""
        group = pwd.getpwnam(user).pw_gid if user else None
        process = subprocess.Popen(
            list(argv),
            env=env,
            user=user,
            group=group,
            extra_groups=[] if user else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,
        )
        child = Child(name, process, stop_signal, grace_seconds, ready_marker)
        if ready_marker is None:
            child.ready.set()
        child.pump = threading.Thread(target=self._pump, args=(child,), daemon=True)
        child.pump.start()
        self.children.append(child)
        return child

    def run(self, name: str, argv: Sequence[str], *, env: dict[str, str] | None = None) -> int:
        """Run ``argv`` to completion with its output in the log; its exit code."""
        child = self.start(name, argv, env=env)
        code = child.process.wait()
        if child.pump is not None:
            child.pump.join(timeout=5)
        self.children.remove(child)
        return code

    def _pump(self, child: Child) -> None:
        assert child.process.stdout is not None
        for raw in child.process.stdout:
            text = raw.rstrip("\n")
            self.log.line(child.name, text)
            if child.ready_marker and child.ready_marker in text:
                child.ready.set()

    def first_exited(self) -> Child | None:
        """A child that has ended on its own, if any."""
        return next((child for child in self.children if not child.alive()), None)

    def stop(self, names: Sequence[str]) -> None:
        """Signal every named child at once, then wait for each within its grace period;
        one that outlives it is killed (and the log says so)."""
        group = [child for child in self.children if child.name in names]
        for child in group:
            if child.alive():
                _signal(child, child.stop_signal)
        for child in group:
            try:
                child.process.wait(timeout=child.grace_seconds)
            except subprocess.TimeoutExpired:
                self.log.line("dev", f"{child.name} did not stop in {child.grace_seconds:g}s")
                _signal(child, signal.SIGKILL)
                child.process.wait()
            if child.pump is not None:
                child.pump.join(timeout=5)
            self.children.remove(child)

    def kill_all(self) -> None:
        """The impatient path (a second Ctrl-C): end every child now."""
        for child in self.children:
            if child.alive():
                _signal(child, signal.SIGKILL)


def _signal(child: Child, signum: int) -> None:
    """Signal the child's whole session: a worker's pool processes stop with it."""
    try:
        if signum == signal.SIGKILL:
            os.killpg(child.process.pid, signum)
        else:
            child.process.send_signal(signum)
    except ProcessLookupError:
        pass
