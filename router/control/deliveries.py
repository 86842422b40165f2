"""Deliveries: the log across events, and sending failed ones again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from eventrouter.router.control import cursor
from eventrouter.router.control.caller import Role
from eventrouter.router.control.service import Service
from eventrouter.router.control.subscriptions import destination_ids
from eventrouter.router.db import history as store
from eventrouter.router.errors import ConfigError, NotFound
from eventrouter.router.models import DeliveryDetail, DeliveryLogEntry, DeliveryStatus, Page

STATUSES = tuple(status.value for status in DeliveryStatus)
RETRYABLE = ("failed", "cancelled")
Ids = list[int]
"""Delivery ids (named: the ``list`` method shadows the builtin inside the class)."""


class Deliveries(Service):
    def list(
        self,
        *,
        limit: int = 50,
        cursor_token: str | None = None,
        status: str | None = None,
        destination: str | None = None,
        event_name: str | None = None,
        since: datetime | None = None,
    ) -> Page[DeliveryLogEntry]:
        """Deliveries newest first, optionally of one status, destination or event name."""
        self.caller.require(Role.VIEWER, "reading the delivery log")
        cursor.check_limit(limit)
        if status is not None and status not in STATUSES:
            raise ConfigError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
        before_id = int(cursor.decode(cursor_token, 1)[0]) if cursor_token else None
        with self.transaction() as conn:
            destination_id = (
                destination_ids(conn, self.org, [destination])[0] if destination else None
            )
            rows = store.deliveries(
                conn,
                self.org,
                limit=limit + 1,
                status=status,
                destination_id=destination_id,
                event_name=event_name,
                since=since,
                before_id=before_id,
            )
        page = rows[:limit]
        next_cursor = cursor.encode(page[-1].id) if rows[limit:] else None
        return Page[DeliveryLogEntry](items=page, next_cursor=next_cursor)

    def show(self, delivery_id: int) -> DeliveryDetail:
        """One delivery with every attempt."""
        self.caller.require(Role.VIEWER, "reading a delivery")
        with self.transaction() as conn:
            found = store.delivery_detail(conn, self.org, delivery_id)
        if found is None:
            raise NotFound(f"no delivery with id {delivery_id}")
        return found

    def _destination_id(self, conn: Connection, name: str | None) -> int | None:
        return destination_ids(conn, self.org, [name])[0] if name else None

    def retry(self, delivery_ids: Sequence[int]) -> Ids:
        """Put failed or cancelled deliveries back to ``pending``; unknown ids raise."""
        self.caller.require(Role.DEVELOPER, "retrying deliveries")
        ids = sorted(set(delivery_ids))
        with self.transaction() as conn:
            states = store.delivery_states(conn, self.org, ids)
            unknown = [i for i in ids if i not in states]
            if unknown:
                raise NotFound(f"no delivery with id {', '.join(map(str, unknown))}")
            busy = [f"{i} ({states[i]})" for i in ids if states[i] not in RETRYABLE]
            if busy:
                raise ConfigError(
                    f"only failed or cancelled deliveries can be retried; not {', '.join(busy)}"
                )
            return store.retry_by_id(conn, self.org, ids)

    def retry_failed(
        self,
        *,
        destination: str | None = None,
        since_seconds: float | None = None,
        status: str | None = None,
    ) -> Ids:
        """Put every failed or cancelled delivery (optionally only those of ``status``, of one
        destination, or updated in the last ``since_seconds``) back to ``pending``."""
        self.caller.require(Role.DEVELOPER, "retrying deliveries")
        if status is not None and status not in RETRYABLE:
            raise ConfigError(f"only {' or '.join(RETRYABLE)} deliveries can be retried")
        if since_seconds is not None and not 0 < since_seconds < 10 * 365 * 86400:
            raise ConfigError("since must be a positive duration such as 1h or 7d")
        with self.transaction() as conn:
            destination_id = (
                destination_ids(conn, self.org, [destination])[0] if destination else None
            )
            return store.retry_failed(
                conn,
                self.org,
                destination_id=destination_id,
                since_seconds=since_seconds,
                status=status,
            )
