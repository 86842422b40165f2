"""One router and one worker for the whole e2e run, on a private database, stream and queue.

Started once, not per module: each start costs a database and two process start-ups
(seconds each on a loaded 2-core machine). Tests see empty tables through ``fresh``; a
module that starts a process of its own (an API) stops it when the module ends.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.stack import Stack


@pytest.fixture(scope="session")
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
