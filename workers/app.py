"""The Celery app. ``celery -A eventrouter.workers worker`` finds it through ``workers/celery.py``.

Celery loads apps by import path, so this is the one place that builds its own
``Settings()`` from the environment.
"""

from __future__ import annotations

import logging

from celery import Celery

from eventrouter.router.settings import Settings

settings = Settings()
# httpx logs every request at INFO; the attempt rows already say everything.
logging.getLogger("httpx").setLevel(logging.WARNING)

app = Celery("eventrouter", include=["eventrouter.workers.tasks"])
app.conf.update(
    broker_url=settings.celery_broker_url,
    broker_connection_retry_on_startup=True,
    broker_transport_options={"visibility_timeout": 3600},
    task_default_queue=settings.queue,
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    task_ignore_result=True,
    task_serializer="json",
    accept_content=["json"],
    worker_prefetch_multiplier=4,
    worker_max_tasks_per_child=10_000,
    worker_hijack_root_logger=False,
)
