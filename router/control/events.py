"""Events: publish one, list them with their delivery counts, show one in full."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.exc import DataError

from eventrouter.router.client import publish
from eventrouter.router.control import cursor
from eventrouter.router.control.caller import Role
from eventrouter.router.control.service import Service
from eventrouter.router.db import history as store
from eventrouter.router.errors import ConfigError, NotFound
from eventrouter.router.models import EventDetail, EventSummary, Page

STATUS_FILTERS = ("pending", "succeeded", "failed", "cancelled")


class Events(Service):
    def publish(
        self,
        name: str,
        payload: Mapping[str, Any] | None = None,
        *,
        env: str | None = None,
        idempotency_key: str | None = None,
    ) -> str:
        """Publish an event in the caller's org; its id once Redis accepted it."""
        self.caller.require(Role.DEVELOPER, "publishing an event")
        return publish(
            name,
            payload,
            env=env,
            org=self.org,
            idempotency_key=idempotency_key,
            settings=self.settings,
        )

    def history(
        self,
        *,
        limit: int = 20,
        cursor_token: str | None = None,
        name_regex: str | None = None,
        env: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page[EventSummary]:
        """Events newest first, with how many of their deliveries stand where."""
        self.caller.require(Role.VIEWER, "reading the event history")
        cursor.check_limit(limit)
        if status is not None and status not in STATUS_FILTERS:
            raise ConfigError(f"unknown status {status!r}; use one of {', '.join(STATUS_FILTERS)}")
        if name_regex is not None:
            try:
                re.compile(name_regex)
            except re.error as exc:
                raise ConfigError(f"invalid --name pattern {name_regex!r}: {exc}") from None
        after = None
        if cursor_token is not None:
            at, event_id = cursor.decode(cursor_token, 2)
            after = (datetime.fromisoformat(at), str(event_id))
        try:
            with self.transaction() as conn:
                rows = store.history(
                    conn,
                    self.org,
                    limit=limit + 1,
                    name_regex=name_regex,
                    env=env,
                    status=status,
                    since=since,
                    until=until,
                    after=after,
                )
        except DataError as exc:
            raise ConfigError(f"invalid --name pattern {name_regex!r}: {exc.orig}") from None
        more = rows[limit:]
        page = rows[:limit]
        next_cursor = cursor.encode(page[-1].received_at.isoformat(), page[-1].id) if more else None
        return Page[EventSummary](items=page, next_cursor=next_cursor)

    def show(self, event_id: str) -> EventDetail:
        """One event with its payload, every delivery and every attempt."""
        self.caller.require(Role.VIEWER, "reading an event")
        try:
            event_id = str(uuid.UUID(event_id))
        except ValueError:
            raise ConfigError(f"{event_id!r} is not an event id (a UUID)") from None
        with self.transaction() as conn:
            event = store.event_detail(conn, self.org, event_id)
        if event is None:
            raise NotFound(f"no event {event_id} in org {self.org!r}")
        return event
