"""Deliveries: the log across events, and sending failed ones again."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection

from eventrouter.router.control import cursor
from eventrouter.router.control.caller import Role
from eventrouter.router.control.events import Events
from eventrouter.router.control.service import Service
from eventrouter.router.control.subscriptions import destination_ids
from eventrouter.router.db import details
from eventrouter.router.db import history as store
from eventrouter.router.errors import ConfigError, NotFound
from eventrouter.router.models.base import Page
from eventrouter.router.models.history import DeliveryDetail, DeliveryLogEntry, DeliveryStatus

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
        show_tests: bool = False,
    ) -> Page[DeliveryLogEntry]:
        """Deliveries, latest change first (a retried one comes back to the top), optionally
        of one status, destination or event name; test notifications only if asked."""
        self.caller.require(Role.VIEWER, "reading the delivery log")
        cursor.check_limit(limit)
        if status is not None and status not in STATUSES:
            raise ConfigError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
        before = cursor.decode_time_and_id(cursor_token, int) if cursor_token else None
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
                before=before,
                show_tests=show_tests,
            )
        return cursor.next_page(rows, limit, lambda row: [row.updated_at.isoformat(), row.id])

    def show(self, delivery_id: int) -> DeliveryDetail:
        """One delivery with every attempt."""
        self.caller.require(Role.VIEWER, "reading a delivery")
        with self.transaction() as conn:
            found = details.delivery_detail(conn, self.org, delivery_id)
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
            busy = [f"{i} ({states[i][0]})" for i in ids if states[i][0] not in RETRYABLE]
            if busy:
                raise ConfigError(
                    f"only failed or cancelled deliveries can be retried; not {', '.join(busy)}"
                )
            orphans = [str(i) for i in ids if states[i][1]]
            if orphans:
                raise ConfigError(
                    f"delivery {', '.join(orphans)} cannot be retried: its destination was "
                    "removed (add the destination again and publish the event anew)"
                )
            return store.retry_by_id(conn, self.org, ids)

    def retry_event(self, event_id: str) -> Ids:
        """Put the failed or cancelled deliveries of one event (an id or an unambiguous
        prefix) back to ``pending``."""
        self.caller.require(Role.DEVELOPER, "retrying deliveries")
        full_id = self._event_id(event_id)
        with self.transaction() as conn:
            ids = store.event_delivery_ids(conn, self.org, full_id)
            states = store.delivery_states(conn, self.org, ids)
        retryable = [i for i in ids if states[i][0] in RETRYABLE]
        if not retryable:
            raise ConfigError(
                f"event {full_id} has no failed or cancelled delivery to retry "
                f"(see 'eventrouter show {full_id}')"
            )
        return self.retry(retryable)

    def _event_id(self, given: str) -> str:
        return Events(self.engine, self.settings, self.caller).show(given).id

    def why_none_retried(self, *, since_seconds: float | None = None) -> str:
        """Why ``retry_failed`` found nothing to retry, in one sentence."""
        self.caller.require(Role.VIEWER, "reading the delivery log")
        with self.transaction() as conn:
            orphaned, tests = store.unretryable(conn, self.org, since_seconds)
        reasons = []
        if orphaned:
            reasons.append(f"{orphaned} failed or cancelled ones whose destination was removed")
        if tests:
            reasons.append(f"{tests} test notification(s) (run 'destinations test' again)")
        if not reasons:
            return "no delivery is failed or cancelled (in this org, destination and time)"
        return "nothing to retry besides " + " and ".join(reasons)

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
