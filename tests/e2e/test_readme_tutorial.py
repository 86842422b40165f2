"""The README's five-minute tutorial, run as written: every command of its ``sh`` blocks and
its Python block, in order, against a router and worker and a local receiver standing in for
``ops.example.com``. A tutorial that drifts from the code fails here."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.stack import Stack
from tests.receiver import Receiver, ok, wait_for

README = Path(__file__).parents[2] / "README.md"
RUN_BY_THE_STACK = [
    "python3 -m venv .venv && . .venv/bin/activate && pip install -e .",  # the test's venv
    "eventrouter router",  # the stack's router
    "eventrouter worker",  # the stack's worker
]


def tutorial() -> list[tuple[str, str]]:
    """``(language, code)`` of each code block of the tutorial section, in order."""
    text = README.read_text()
    section = text.split("## Five-minute tutorial", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(sh|python)\n(.*?)```", section, flags=re.S)


def commands(code: str) -> Iterator[list[str]]:
    """The words of each command of a ``sh`` block (continuation lines joined, comments
    dropped)."""
    for line in code.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if words:
            yield words


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(ok()) as rx:
        yield rx


def test_the_tutorial_runs_as_written(fresh: Stack, receiver: Receiver, tmp_path: Path) -> None:
    blocks = tutorial()
    assert {language for language, _ in blocks} == {"sh", "python"}, blocks
    skipped = []
    event_id = ""
    for language, code in blocks:
        if language == "python":
            run_python(fresh, code, tmp_path)
            continue
        for words in commands(code):
            if shlex.join(words) in map(shlex.join, map(shlex.split, RUN_BY_THE_STACK)):
                skipped.append(words)
                continue
            argv = [local(word, receiver, event_id) for word in words]
            assert argv[0] == "eventrouter", words
            result = fresh.cli(*argv[1:], check=False)
            assert result.returncode == 0, (words, result.stdout, result.stderr)
            if argv[1] == "send":
                event_id = result.stdout.strip()
                wait_for(
                    lambda: (
                        fresh.scalar("SELECT count(*) FROM deliveries WHERE status = 'succeeded'")
                        >= 1
                    ),
                    30,
                    "the tutorial's event to be delivered",
                )
            if argv[1] == "show":
                assert event_id in result.stdout and "succeeded" in result.stdout
    assert len(skipped) == len(RUN_BY_THE_STACK), skipped
    assert event_id, "the tutorial sends an event"
    wait_for(lambda: len(receiver.requests()) >= 4, 30, "every event the tutorial publishes")
    first = receiver.requests()[0]
    assert first.headers["authorization"] == "Bearer s3cr3t"
    assert first.json["name"] == "payment:failed" and first.json["env"] == "production"
    logs = fresh.logs()
    assert "destination ops-hook (id " in logs and "claimed: 1 succeeded" in logs, logs
    assert "] succeeded in " not in logs  # Celery's own line, misleading for a batch


def local(word: str, receiver: Receiver, event_id: str) -> str:
    """The tutorial's placeholders made real: its endpoint is the local receiver, and
    ``01a2...`` is the start of the id ``send`` printed."""
    if word == "01a2...":
        return event_id[:13] + "..."
    return word.replace("https://ops.example.com/hooks", receiver.url_for("/hooks"))


def run_python(stack: Stack, code: str, spool: Path) -> None:
    env = {**stack.env, "EVENTROUTER_SPOOL_DIR": str(spool)}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, (code, result.stderr)
