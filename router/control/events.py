"""Events: publish one, list them with their delivery counts, show one in full."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import re2
from sqlalchemy.exc import DataError, OperationalError

from eventrouter.router.client import publish, publish_many
from eventrouter.router.control import cursor
from eventrouter.router.control.caller import Role
from eventrouter.router.control.service import Service
from eventrouter.router.db import history as store
from eventrouter.router.db import is_query_cancelled, set_statement_timeout
from eventrouter.router.errors import ConfigError, NotFound
from eventrouter.router.models import EventDetail, EventIn, EventSummary, Page

STATUS_FILTERS = ("pending", "succeeded", "failed", "cancelled")
MAX_NAME_PATTERN = 1000
HISTORY_TIMEOUT_MS = 5000
"""A history query with a caller's pattern is cancelled after this long: the pattern runs
inside Postgres (``name ~ pattern``), so its cost must be bounded whatever it is."""


def check_name_pattern(pattern: str) -> str:
    """A caller's name pattern, checked with RE2 before Postgres runs it: RE2 refuses what
    can take exponential time (backreferences, lookaround), and its length is bounded."""
    if len(pattern) > MAX_NAME_PATTERN:
        raise ConfigError(f"--name pattern is over {MAX_NAME_PATTERN} characters")
    try:
        re2.compile(pattern)
    except re2.error as exc:
        raise ConfigError(f"invalid --name pattern {pattern!r}: {exc}") from None
    return pattern


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

    def publish_many(self, events: Sequence[EventIn]) -> list[str]:
        """Publish a batch in the caller's org in one Redis round trip; the ids in order.
        Every event is validated first, so one bad event publishes none."""
        self.caller.require(Role.DEVELOPER, "publishing events")
        return publish_many(
            [event.model_dump(exclude_none=True) for event in events],
            org=self.org,
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
            check_name_pattern(name_regex)
        after = None
        if cursor_token is not None:
            at, event_id = cursor.decode(cursor_token, 2)
            after = (datetime.fromisoformat(at), str(event_id))
        try:
            with self.transaction() as conn:
                if name_regex is not None:
                    set_statement_timeout(conn, HISTORY_TIMEOUT_MS)
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
        except OperationalError as exc:
            if not is_query_cancelled(exc):
                raise
            raise ConfigError(
                f"the --name pattern {name_regex!r} took over {HISTORY_TIMEOUT_MS // 1000} s; "
                "use a simpler pattern or narrow the search with since/until"
            ) from None
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
