"""Hands planned deliveries to Celery: one task per (destination, batch of ids).

With ``workers/app.py``, the only module that knows Celery. It sends by task name so
the router never imports worker code.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from celery import Celery
from kombu.exceptions import OperationalError

from eventrouter.router.errors import first_line
from eventrouter.router.redis_conn import celery_broker
from eventrouter.router.settings import Settings

log = logging.getLogger("eventrouter.router")
DELIVER_TASK = "eventrouter.deliver"
BROKER_RETRY_SECONDS = 5.0
"""After the broker failed once, how long the router leaves it alone before trying again."""


class Dispatch(Protocol):
    """What the router and scheduler need: hand ``(delivery_id, destination_id)`` pairs on."""

    def dispatch(self, deliveries: Iterable[tuple[int, int]]) -> int: ...


class Dispatcher:
    """Sends ``deliver(destination_id, delivery_ids)`` tasks to the delivery queue."""

    def __init__(self, settings: Settings) -> None:
        self._queue = settings.queue
        self._batch_size = settings.delivery_batch_size
        broker, transport_options = celery_broker(settings.celery_broker_url)
        self._celery = Celery("eventrouter-dispatch", broker=broker)
        self._celery.conf.update(
            broker_connection_retry_on_startup=True,
            broker_transport_options={"visibility_timeout": 3600, **transport_options},
            task_serializer="json",
        )

    def dispatch(self, deliveries: Iterable[tuple[int, int]]) -> int:
        """Enqueue ``(delivery_id, destination_id)`` pairs; return the number of tasks sent."""
        by_destination: dict[int, list[int]] = defaultdict(list)
        for delivery_id, destination_id in deliveries:
            by_destination[destination_id].append(delivery_id)
        sent = 0
        with self._celery.producer_or_acquire() as producer:
            for destination_id, ids in by_destination.items():
                for start in range(0, len(ids), self._batch_size):
                    self._celery.send_task(
                        DELIVER_TASK,
                        args=(destination_id, ids[start : start + self._batch_size]),
                        queue=self._queue,
                        producer=producer,
                        ignore_result=True,
                    )
                    sent += 1
        return sent

    def waiting(self) -> int:
        """Tasks in the delivery queue that no worker has taken yet.

        Fails at once when the broker cannot be reached (kombu would otherwise retry the
        connection for seconds, and the router asks every 0.1 s).
        """
        with self._celery.connection_or_acquire() as connection:
            connection.ensure_connection(max_retries=0)
            try:
                declared = connection.default_channel.queue_declare(queue=self._queue, passive=True)
            except connection.channel_errors:  # not declared yet: nothing waits in it
                return 0
            return int(declared.message_count)


class BrokerGuard:
    """The dispatcher as the router uses it: an unreachable broker never stops routing.

    When a dispatch or a look at the queue fails, the broker counts as down for
    ``retry_seconds``. Meanwhile nothing is sent and the queue is not looked at: the
    router goes on storing events, and their deliveries wait in Postgres until the
    scheduler dispatches them, once a call after the pause finds the broker back.
    """

    def __init__(
        self, dispatcher: Dispatch, *, retry_seconds: float = BROKER_RETRY_SECONDS
    ) -> None:
        self._dispatcher = dispatcher
        self._waiting: Callable[[], int] | None = getattr(dispatcher, "waiting", None)
        self._retry_seconds = retry_seconds
        self._down_until = 0.0
        self._failing = False

    @property
    def up(self) -> bool:
        """Whether the broker may be tried now (it is not known to be down)."""
        return time.monotonic() >= self._down_until

    def dispatch(self, deliveries: Sequence[tuple[int, int]]) -> bool:
        """Enqueue tasks for ``deliveries``; ``False`` if the broker is down, in which case
        they are the scheduler's to dispatch."""
        if not deliveries:
            return True
        if not self.up:
            return False
        try:
            self._dispatcher.dispatch(deliveries)
        except Exception as exc:  # any broker failure: the scheduler dispatches later
            self._down(exc)
            return False
        self._recovered()
        return True

    def waiting(self) -> int | None:
        """Tasks waiting in the delivery queue; ``None`` when that cannot be known (the
        dispatcher has no queue to ask, or the broker is down)."""
        if self._waiting is None or not self.up:
            return None
        try:
            count = self._waiting()
        except Exception as exc:
            self._down(exc)
            return None
        self._recovered()
        return count

    def _down(self, exc: BaseException) -> None:
        self._down_until = time.monotonic() + self._retry_seconds
        if not self._failing:
            self._failing = True
            log.error(
                "Celery broker unavailable (%s): storing events on; their deliveries are "
                "dispatched by the scheduler once it is back (retrying every %.0fs)",
                first_line(exc),
                self._retry_seconds,
                # An unreachable broker says all in one line; anything else, in full.
                exc_info=None if isinstance(exc, OperationalError | OSError) else exc,
            )

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            log.info("Celery broker reachable again: dispatching")


def guarded(dispatcher: Dispatch | BrokerGuard) -> BrokerGuard:
    """``dispatcher`` behind a ``BrokerGuard`` (itself if it already is one)."""
    return dispatcher if isinstance(dispatcher, BrokerGuard) else BrokerGuard(dispatcher)
