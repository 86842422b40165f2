"""Fixtures for integration tests: the CLI run in-process on the test services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine

from eventrouter.router.cli import main
from eventrouter.router.settings import Settings


@dataclass
class Result:
    code: int
    out: str
    err: str


Run = Callable[..., Result]


@pytest.fixture
def run(
    settings: Settings,
    clean_db: Engine,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Run:
    """``eventrouter …`` through ``router.cli.main`` (what the console script calls), with
    the test settings in the environment; a traceback fails the test instead of printing."""
    for key, value in settings.model_dump().items():
        if value is not None:
            monkeypatch.setenv(f"EVENTROUTER_{key.upper()}", str(value))

    def invoke(*args: str) -> Result:
        code = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return invoke
