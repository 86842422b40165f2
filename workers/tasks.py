"""The one task: ``deliver(destination_id, delivery_ids)``.

Process-wide resources (the database engine, the HTTP client, the rate limiter) are made
on first use, i.e. after Celery's prefork, so no connection is shared across processes.

Shutdown: the worker's main process stops on SIGTERM after its running tasks finish
(Celery's warm shutdown), and a task is time-boxed, so that wait is short. When the
pool processes get SIGTERM too (``systemd`` signals the whole group), a process in the
middle of a batch finishes the request in flight, hands the unsent rest back to
``pending``, records what it sent, and only then exits: nothing stays ``delivering``.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from functools import cache
from types import FrameType
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from eventrouter.router.db import is_connection_error, make_engine
from eventrouter.router.db.claims import load_destination
from eventrouter.router.destinations import SendContext
from eventrouter.router.destinations.context import make_send_context
from eventrouter.router.dispatch import DELIVER_TASK
from eventrouter.router.redis_conn import redis_client
from eventrouter.workers.app import app, settings
from eventrouter.workers.delivery import deliver_batch
from eventrouter.workers.names import REMOVED, DestinationNames
from eventrouter.workers.pacing import SlowDestinations

log = logging.getLogger("eventrouter.worker")
_stopping = threading.Event()
_busy = threading.Event()
_previous_sigterm: Any = signal.SIG_DFL


@cache
def _engine() -> Engine:
    return make_engine(settings.database_url, pool_size=2)


@cache
def _context() -> SendContext:
    return make_send_context(settings)


@cache
def _pacer() -> SlowDestinations:
    return SlowDestinations(
        settings.slow_request_seconds,
        settings.slow_destination_workers,
        shared=redis_client(settings.redis_url, retries=0),
        prefix=settings.queue,
    )


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    if _busy.is_set():
        log.info("SIGTERM: finishing the request in flight, handing back the rest")
        _stopping.set()
        return
    _exit_as_before(signum, frame)


def _exit_as_before(signum: int, frame: FrameType | None) -> None:
    signal.signal(signal.SIGTERM, _previous_sigterm)
    if callable(_previous_sigterm):
        _previous_sigterm(signum, frame)
    else:
        os.kill(os.getpid(), signal.SIGTERM)


def _handle_sigterm_gracefully() -> None:
    """Take over SIGTERM in a pool process, keeping the pool's own handler for when it is
    idle. Done at the first task: billiard installs its handler after process init."""
    global _previous_sigterm
    current = signal.getsignal(signal.SIGTERM)
    if current is not _on_sigterm and threading.current_thread() is threading.main_thread():
        _previous_sigterm = current
        signal.signal(signal.SIGTERM, _on_sigterm)


def _lookup_name(destination_id: int) -> str | None:
    try:
        with _engine().connect() as conn:
            record = load_destination(conn, destination_id)
    except DBAPIError:
        return None
    return record.name if record is not None else REMOVED


destination_names = DestinationNames(_lookup_name, ttl=settings.config_refresh_seconds)


@app.task(name=DELIVER_TASK, acks_late=True, reject_on_worker_lost=True)  # type: ignore[untyped-decorator]
def deliver(destination_id: int, delivery_ids: list[int]) -> dict[str, int]:
    """Send what is still pending of ``delivery_ids`` to ``destination_id`` and record it."""
    _handle_sigterm_gracefully()
    _busy.set()
    try:
        summary = deliver_batch(
            _engine(),
            _context(),
            settings,
            destination_id,
            delivery_ids,
            stop=_stopping.is_set,
            pacer=_pacer(),
            interrupted_by=(SoftTimeLimitExceeded,),
        )
    except SoftTimeLimitExceeded:
        # deliver_batch recorded what it sent and handed the rest back before this.
        log.warning("destination %d: task stopped at its soft time limit", destination_id)
        return {"interrupted": len(delivery_ids)}
    except DBAPIError as exc:
        if not is_connection_error(exc):
            raise
        # Nothing is lost: unclaimed rows are dispatched again by the scheduler after
        # dispatch_grace_seconds, claimed ones when their lease expires.
        log.warning(
            "Postgres still unavailable; %d deliveries to destination %d left to the scheduler",
            len(delivery_ids),
            destination_id,
        )
        return {"postponed": len(delivery_ids)}
    finally:
        _busy.clear()
        if _stopping.is_set():
            # Let this result reach the parent, then leave as SIGTERM asked.
            timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGTERM))
            timer.daemon = True
            timer.start()
    # The batch's outcome, not Celery's "succeeded" (silenced in app.py): a task that ran
    # well may carry deliveries that failed.
    if log.isEnabledFor(logging.INFO):  # the name may cost a query: only when it is shown
        log.info(
            "destination %s: %s", destination_names.describe(destination_id), summary.describe()
        )
    return summary.as_dict()
