"""Events: publish one, list them with their delivery counts, show one in full."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import re2
from sqlalchemy import Connection

from eventrouter.router.client import publish, publish_many, unrouted
from eventrouter.router.control import cursor
from eventrouter.router.control.caller import Role
from eventrouter.router.control.service import Service
from eventrouter.router.db import config as config_store
from eventrouter.router.db import details
from eventrouter.router.db import history as store
from eventrouter.router.errors import ConfigError, NotFound
from eventrouter.router.models.base import Page
from eventrouter.router.models.history import EventDetail, EventIn, EventSummary

STATUS_FILTERS = ("pending", "succeeded", "failed", "cancelled")
MAX_NAME_PATTERN = 1000
HEX = re.compile(r"[0-9a-f]+")


def check_name_pattern(pattern: str) -> Any:
    """A caller's name pattern, compiled with RE2 (linear time, no backreferences or
    lookaround) and bounded in length; it is matched against whole names, as channels are."""
    if len(pattern) > MAX_NAME_PATTERN:
        raise ConfigError(f"--name pattern is over {MAX_NAME_PATTERN} characters")
    try:
        return re2.compile(pattern)
    except re2.error as exc:
        raise ConfigError(f"invalid --name pattern {pattern!r}: {exc}") from None


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

    def org_configured(self) -> bool:
        """Whether the caller's org has any configuration: an org name with a typo has
        none, and its history is quietly empty."""
        self.caller.require(Role.VIEWER, "reading the configuration")
        with self.transaction() as conn:
            return config_store.org_configured(conn, self.org)

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
        hide_system: bool = True,
    ) -> Page[EventSummary]:
        """Events newest first, with how many of their deliveries stand where.

        ``name_regex`` is RE2 matched against the whole name, as channels are;
        ``hide_system`` leaves out system events and test notifications."""
        self.caller.require(Role.VIEWER, "reading the event history")
        cursor.check_limit(limit)
        if status is not None and status not in STATUS_FILTERS:
            raise ConfigError(f"unknown status {status!r}; use one of {', '.join(STATUS_FILTERS)}")
        matcher = None
        if name_regex is not None:
            matcher = check_name_pattern(name_regex)
        after = cursor.decode_time_and_id(cursor_token, str) if cursor_token is not None else None
        with self.transaction() as conn:
            names = None
            if matcher is not None:
                names = [n for n in store.event_names(conn, self.org) if matcher.fullmatch(n)]
            rows = store.history(
                conn,
                self.org,
                limit=limit + 1,
                names=names,
                hide_system=hide_system,
                env=env,
                status=status,
                since=since,
                until=until,
                after=after,
            )
        return cursor.next_page(rows, limit, lambda row: [row.received_at.isoformat(), row.id])

    def show(self, event_id: str) -> EventDetail:
        """One event with its payload, every delivery and every attempt. ``event_id`` may
        be an unambiguous prefix of the id (at least 4 hex digits)."""
        self.caller.require(Role.VIEWER, "reading an event")
        with self.transaction() as conn:
            full_id = self._resolve(conn, event_id)
            event = details.event_detail(conn, self.org, full_id) if full_id else None
        if event is None:
            raise NotFound(self._missing(event_id))
        return event

    def _resolve(self, conn: Connection, given: str) -> str | None:
        """The full id ``given`` names, or ``None`` when no event of the org has it."""
        prefix = given.strip().rstrip(".…").replace("-", "").lower()
        if not HEX.fullmatch(prefix) or len(prefix) < 4:
            raise ConfigError(
                f"{given!r} is not an event id: give the id 'eventrouter send' printed, "
                "or its first 4 or more characters"
            )
        if len(prefix) == 32:
            return str(uuid.UUID(prefix))
        found = store.event_ids_with_prefix(conn, self.org, prefix, limit=2)
        if len(found) > 1:
            raise ConfigError(f"event id prefix {given!r} is ambiguous; give more characters")
        return found[0] if found else None

    def _missing(self, given: str) -> str:
        """Why an event is not found, with the likely reason when it waits in the stream."""
        message = f"no event {given} in org {self.org!r}"
        waiting = unrouted(self.settings)
        if waiting:
            return (
                f"{message} yet: {waiting} event(s) are in the stream, not yet routed; is a "
                "router running? (start one with 'eventrouter router')"
            )
        return f"{message} (check the id and --org)"
