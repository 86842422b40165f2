"""A batch's requests over a few lanes: threads that each take the batch's next delivery
as soon as their last answer is in, until none is left or they are told to halt.

Why lanes and not a wave of futures: a future per request cost a hand-off between threads
in each direction (a queue put, two condition notifies, a wake-up) on top of the request
itself, which was the top of the worker's profile; a lane hands off once per batch. And
no lane waits for the slowest request of a wave before it sends again.

The calling thread only watches (``wait``): it can tell which requests are out and since
when, and take the results so far to record them, while the lanes go on. Every change of
what is queued, in flight or done happens under one lock, so what the caller sees is
always a consistent split of the batch: each delivery is in exactly one of them.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import cache

from eventrouter.router.db.claims import ClaimedDelivery
from eventrouter.workers.bookkeeping import AttemptResult


@cache
def _threads(size: int) -> ThreadPoolExecutor:
    """The threads lanes run on; made once per process and size, on first use, i.e.
    after Celery's fork."""
    return ThreadPoolExecutor(size, thread_name_prefix="lane")


class InFlight:
    """A request a lane has started: its delivery and when it started (wall and monotonic)."""

    __slots__ = ("began", "delivery", "started_at")

    def __init__(self, delivery: ClaimedDelivery) -> None:
        self.delivery = delivery
        self.started_at = datetime.now(UTC)
        self.began = time.monotonic()


class Lanes:
    """Send ``todo`` with ``send`` over ``width`` lanes; a lane takes no new delivery once
    ``go_on()`` turns false or ``halt()`` was called (the requests out are finished)."""

    def __init__(
        self,
        send: Callable[[ClaimedDelivery], AttemptResult],
        todo: Sequence[ClaimedDelivery],
        width: int,
        *,
        go_on: Callable[[], bool],
        after_each: Callable[[AttemptResult], bool] | None = None,
    ) -> None:
        """``after_each(result)`` returning true halts the lanes (a slow answer)."""
        self._send = send
        self._go_on = go_on
        self._after_each = after_each
        self._todo = deque(todo)
        self._lock = threading.Lock()
        self._results: list[AttemptResult] = []
        self._in_flight: dict[int, InFlight] = {}
        self._halted = False
        self._error: BaseException | None = None
        self._width = max(1, min(width, len(todo)))
        self._running = self._width
        self._finished = threading.Event()

    def start(self) -> Lanes:
        if not self._todo:
            self._finished.set()
            return self
        pool = _threads(self._width)
        for lane in range(self._width):
            pool.submit(self._lane, lane)
        return self

    def wait(self, timeout: float) -> bool:
        """Wait until every lane has stopped, at most ``timeout`` seconds; whether they have.
        Raises what a lane raised outside ``send`` (``send`` itself handles failures)."""
        finished = self._finished.wait(timeout)
        if finished and self._error is not None:
            raise self._error
        return finished

    def halt(self) -> None:
        """No lane takes a new delivery; the requests out go on to their answers."""
        with self._lock:
            self._halted = True

    def oldest_began(self) -> float | None:
        """When (``time.monotonic()``) the longest-running request out started, if any."""
        with self._lock:
            return min((f.began for f in self._in_flight.values()), default=None)

    def take_results(self) -> list[AttemptResult]:
        """The results that came in since the last call."""
        with self._lock:
            results, self._results = self._results, []
        return results

    def take_all(self) -> tuple[list[AttemptResult], list[InFlight], list[ClaimedDelivery]]:
        """Halt, and split the batch as it stands: results not yet taken, requests out
        (their outcome unknown), deliveries never sent. A request out that answers later
        is not reported again."""
        with self._lock:
            self._halted = True
            results, self._results = self._results, []
            in_flight = list(self._in_flight.values())
            self._in_flight.clear()
            unsent = list(self._todo)
            self._todo.clear()
        return results, in_flight, unsent

    def _lane(self, lane: int) -> None:
        try:
            while True:
                with self._lock:
                    if self._halted or not self._todo or not self._go_on():
                        return
                    flight = self._in_flight[lane] = InFlight(self._todo.popleft())
                result = self._send(flight.delivery)
                halt = self._after_each is not None and self._after_each(result)
                with self._lock:
                    if self._in_flight.pop(lane, None) is flight:  # not given up by take_all
                        self._results.append(result)
                    if halt:
                        self._halted = True
        except BaseException as exc:  # surfaced by wait(); the delivery stays in flight
            with self._lock:
                self._halted = True
                self._error = exc
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0:
                    self._finished.set()
