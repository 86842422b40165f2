"""The one task: ``deliver(destination_id, delivery_ids)``.

Process-wide resources (the database engine, the HTTP client, the rate limiter) are made
on first use, i.e. after Celery's prefork, so no connection is shared across processes.
"""

from __future__ import annotations

import logging
from functools import cache

from sqlalchemy import Engine

from router.db import make_engine
from router.dispatch import DELIVER_TASK
from workers.app import app, settings
from workers.context import make_send_context
from workers.delivery import deliver_batch
from workers.destinations import SendContext

log = logging.getLogger("eventrouter.worker")


@cache
def _engine() -> Engine:
    return make_engine(settings.database_url, pool_size=2)


@cache
def _context() -> SendContext:
    return make_send_context(settings)


@app.task(name=DELIVER_TASK, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
def deliver(destination_id: int, delivery_ids: list[int]) -> dict[str, int]:
    """Send what is still pending of ``delivery_ids`` to ``destination_id`` and record it."""
    summary = deliver_batch(_engine(), _context(), settings, destination_id, delivery_ids)
    log.info("destination %d: %s", destination_id, summary.as_dict())
    return summary.as_dict()
