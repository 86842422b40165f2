"""The Celery app. ``celery -A eventrouter.workers worker`` finds it through ``workers/celery.py``.

Celery loads apps by import path, so this is the one place that builds its own
``Settings()`` from the environment.
"""

from __future__ import annotations

import logging

from celery import Celery

from eventrouter.router.redis_conn import celery_broker
from eventrouter.router.settings import MAX_REQUEST_TIMEOUT_SECONDS, Settings
from eventrouter.workers.liveness import HeartbeatStep

TIME_LIMIT_MARGIN_SECONDS = 60.0
"""Room past a task's longest legitimate run (its time box, then one request that started
just before the box ended and ran to the longest timeout a destination may set) for the
bookkeeping around it."""


def time_limits(settings: Settings) -> tuple[float, float]:
    """``(soft, hard)`` Celery time limits of a delivery task: a backstop for a call that
    hangs past every timeout (a name lookup, an SMTP peer). The soft limit interrupts the
    batch, which records what it sent and hands the rest back; the hard one ends the process
    ``TIME_LIMIT_MARGIN_SECONDS`` later if even that hangs."""
    soft = (
        settings.delivery_time_box_seconds
        + max(settings.request_timeout_seconds, MAX_REQUEST_TIMEOUT_SECONDS)
        + TIME_LIMIT_MARGIN_SECONDS
    )
    return soft, soft + TIME_LIMIT_MARGIN_SECONDS


settings = Settings()
broker_url, transport_options = celery_broker(settings.celery_broker_url)
soft_time_limit, time_limit = time_limits(settings)
# httpx logs every request at INFO; the attempt rows already say everything.
logging.getLogger("httpx").setLevel(logging.WARNING)
# Celery logs every task as "succeeded", even a batch whose deliveries all failed; the task
# logs the batch's outcome instead (failures of the task itself are still logged).
logging.getLogger("celery.app.trace").setLevel(logging.WARNING)

app = Celery("eventrouter", include=["eventrouter.workers.tasks"])
app.conf.update(
    broker_url=broker_url,
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": 3600, **transport_options},
    task_default_queue=settings.queue,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    task_soft_time_limit=soft_time_limit,
    task_time_limit=time_limit,
    worker_prefetch_multiplier=4,
    worker_max_tasks_per_child=10_000,
    worker_hijack_root_logger=False,
)
# Touches EVENTROUTER_HEARTBEAT_FILE while the worker's loop turns (liveness probes).
app.conf.eventrouter_heartbeat_file = settings.heartbeat_file
app.steps["worker"].add(HeartbeatStep)
