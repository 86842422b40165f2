"""Waiting out a Postgres outage: the one retry loop around a worker's statements."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from eventrouter.router.db import is_connection_error
from eventrouter.router.errors import first_line

log = logging.getLogger("eventrouter.worker")
T = TypeVar("T")


def with_database(engine: Engine, until: float, work: Callable[[Connection], T]) -> T:
    """Run ``work`` in a transaction, waiting out a Postgres outage until ``until``.

    Only connection failures are retried (with backoff); a failing statement is a bug
    and raises at once. Every statement ``work`` runs must be safe to repeat, since a
    commit cut off by the outage may or may not have happened.
    """
    backoff = 0.2
    warned = False
    while True:
        try:
            with engine.begin() as conn:
                return work(conn)
        except DBAPIError as exc:
            if not is_connection_error(exc) or time.monotonic() + backoff > until:
                raise
            if not warned:
                log.warning("Postgres unavailable (%s); retrying", first_line(exc))
                warned = True
            time.sleep(backoff)
            backoff = min(backoff * 2, 2.0)
