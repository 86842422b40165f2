"""Destination names for the worker's log lines, remembered for a short while.

A name can change (a rename is an update like any other), so a remembered one is looked
up again once it is older than ``ttl``: the worker passes the routers' config refresh
interval, so a renamed destination shows by its new name as soon as routers route by it,
without a query per batch. A lookup that fails (the database is away) is not remembered.
"""

from __future__ import annotations

import time
from collections.abc import Callable

REMOVED = "(removed)"
UNKNOWN = "(unknown)"


class DestinationNames:
    """``describe(id)`` → ``name (id N)``, with each name looked up at most once per ``ttl``.

    ``lookup`` returns the name, ``REMOVED`` when no such destination exists any more, or
    ``None`` when it could not tell (shown as ``UNKNOWN`` and asked again next time).
    """

    def __init__(
        self,
        lookup: Callable[[int], str | None],
        *,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lookup = lookup
        self._ttl = ttl
        self._clock = clock
        self._known: dict[int, tuple[float, str]] = {}

    def describe(self, destination_id: int) -> str:
        now = self._clock()
        known = self._known.get(destination_id)
        if known is not None and now - known[0] < self._ttl:
            name = known[1]
        else:
            found = self._lookup(destination_id)
            if found is None:
                self._known.pop(destination_id, None)
                name = UNKNOWN
            else:
                self._known[destination_id] = (now, found)
                name = found
        return f"{name} (id {destination_id})"
