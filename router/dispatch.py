"""Hands planned deliveries to Celery: one task per (destination, batch of ids).

With ``workers/app.py``, the only module that knows Celery. It sends by task name so
the router never imports worker code.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Protocol

from celery import Celery

from eventrouter.router.settings import Settings

DELIVER_TASK = "eventrouter.deliver"


class Dispatch(Protocol):
    """What the router and scheduler need: hand ``(delivery_id, destination_id)`` pairs on."""

    def dispatch(self, deliveries: Iterable[tuple[int, int]]) -> int: ...


class Dispatcher:
    """Sends ``deliver(destination_id, delivery_ids)`` tasks to the delivery queue."""

    def __init__(self, settings: Settings) -> None:
        self._queue = settings.queue
        self._batch_size = settings.delivery_batch_size
        self._celery = Celery("eventrouter-dispatch", broker=settings.celery_broker_url)
        self._celery.conf.update(
            broker_connection_retry_on_startup=True,
            broker_transport_options={"visibility_timeout": 3600},
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
        """Tasks in the delivery queue that no worker has taken yet."""
        with self._celery.connection_or_acquire() as connection:
            try:
                declared = connection.default_channel.queue_declare(queue=self._queue, passive=True)
            except connection.channel_errors:  # not declared yet: nothing waits in it
                return 0
            return int(declared.message_count)
