"""One router and one worker per e2e module, on a private database, stream and queue."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.stack import Stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack.create(tmp_path_factory.mktemp("stack"))
    try:
        running.start_router()
        running.start_worker()
        yield running
    finally:
        running.destroy()


@pytest.fixture
def fresh(stack: Stack) -> Stack:
    """The module's stack with empty tables."""
    stack.reset()
    return stack
