"""Run ``eventrouter router|worker`` with a failpoint armed, for faults that must land at
an exact spot: ``CHAOS_FAILPOINT=router-before-ack:N`` makes the router ``kill -9``
itself on its N-th batch after the commit and before the ack; ``router-before-commit:N``
does it inside the N-th batch's transaction, i.e. while it holds a batch it has read.

Everything else is the real command: the same code, process and signals.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from eventrouter.router.store import EventStore
from eventrouter.router.stream import StreamReader


def _kill_on_call(cls: type, method: str, nth: int) -> None:
    original: Callable[..., Any] = getattr(cls, method)
    calls = 0

    def armed(self: object, *args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == nth:
            print(f"failpoint {method}: kill -9 on call {nth}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, *args, **kwargs)

    setattr(cls, method, armed)


FAILPOINTS = {
    "router-before-ack": (StreamReader, "ack"),
    "router-before-commit": (EventStore, "persist"),
}


def main() -> None:
    name, _, nth = os.environ["CHAOS_FAILPOINT"].partition(":")
    cls, method = FAILPOINTS[name]
    _kill_on_call(cls, method, int(nth or 1))
    from eventrouter.router.cli import main as cli_main

    cli_main(sys.argv[1:])


if __name__ == "__main__":
    main()
