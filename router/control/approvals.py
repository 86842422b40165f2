"""Approval decisions and acknowledgements as events, timeouts, and the Slack messages that
must show them.

Every decision, whoever makes it, goes through ``publish_decision`` / ``publish_ack`` in
the transaction that recorded it: the event goes to the routers' outbox and the messages
to update to ``slack_message_updates``, so a crash right after the commit loses neither.
The routers' scheduler runs ``expire_due`` and ``sync_messages`` (``Approvals``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from eventrouter.router.crypto import reveal
from eventrouter.router.db import approvals as store
from eventrouter.router.db import ingest, slack_messages
from eventrouter.router.db.approvals import ApprovalState
from eventrouter.router.db.clicks import EventRow
from eventrouter.router.db.slack_messages import MessageUpdate
from eventrouter.router.destinations import OutcomeKind, SendContext, validate_config
from eventrouter.router.destinations.slack_api import reply_in_thread, update_message
from eventrouter.router.destinations.slack_config import SlackConfig
from eventrouter.router.events import Event
from eventrouter.router.interactive import (
    Decision,
    Resolution,
    clock,
    decision_payload,
    iso,
    read_interactions,
    resolution_lines,
)
from eventrouter.router.settings import Settings

log = logging.getLogger("eventrouter.approvals")
EXPIRE_BATCH = 500
SYNC_BATCH = 50
SYNC_LEASE_SECONDS = 60.0
SYNC_MAX_ATTEMPTS = 10
ACK_EVENT = "alert:acknowledged"


def as_event(row: EventRow) -> Event:
    return Event(
        id=row.id,
        name=row.name,
        org=row.org,
        env=row.env,
        payload=row.payload,
        published_at=row.published_at.timestamp() if row.published_at else None,
    )


def _carried(payload: dict[str, Any]) -> dict[str, Any]:
    """What an answer carries of the event it answers: not its buttons (a decision is no
    alert to acknowledge again)."""
    return {k: v for k, v in payload.items() if k not in ("approval", "ack")}


def publish_decision(conn: Connection, state: ApprovalState, payload: dict[str, Any]) -> None:
    """Emit ``approval:<decision>`` for a decision just recorded, and queue the updates of
    the messages that asked."""
    decision = Decision(state.decision or Decision.EXPIRED)
    at = state.decided_at or datetime.now(UTC)
    by = (
        {"id": state.decided_by_id, "name": state.decided_by_name or state.decided_by_id}
        if state.decided_by_id
        else None
    )
    body = decision_payload(
        request_event_id=state.request_event_id,
        request_name=state.request_name,
        request_payload=_carried(payload),
        decision=decision,
        decided_by=by,
        decided_at=at,
        on_timeout=Decision(state.on_timeout),
    )
    ingest.emit(conn, state.org, state.env, f"approval:{decision.value}", body)
    interactions = read_interactions(payload, strict=False)
    resolution = Resolution(decision=decision, decided_by=state.decided_by_id, decided_at=at)
    lines = resolution_lines(interactions, resolution)
    slack_messages.queue_message_updates(conn, state.request_event_id, "\n".join(lines))


def publish_ack(
    conn: Connection, event: EventRow, *, user_id: str, user_name: str, at: datetime, via: str
) -> None:
    """Emit ``alert:acknowledged`` for an acknowledgement just recorded; queue the updates."""
    body = {
        **_carried(event.payload),
        "event_id": event.id,
        "event_name": event.name,
        "acknowledged_by": {"id": user_id, "name": user_name},
        "acknowledged_at": iso(at),
        "via": via,
    }
    ingest.emit(conn, event.org, event.env, ACK_EVENT, body)
    reply = f":eyes: *Acknowledged* by <@{user_id}> at {clock(at)}"
    slack_messages.queue_message_updates(conn, event.id, reply)


class Approvals:
    """The routers' share: timeouts and message updates, from the scheduler loop."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    def expire_due(self) -> int:
        """Expire undecided requests past their timeout: each once, whatever the number of
        routers (SKIP LOCKED, and the decision's own ``IS NULL`` check); return how many."""
        with self.engine.begin() as conn:
            expired = store.expire_due(conn, EXPIRE_BATCH)
            for item in expired:
                publish_decision(conn, item.state, item.payload)
        if expired:
            log.info("%d approval requests expired", len(expired))
        return len(expired)

    def sync_messages(self, ctx: SendContext) -> int:
        """Bring due Slack messages up to date: the thread reply once, then ``chat.update``;
        a failure is tried again later (at most ``SYNC_MAX_ATTEMPTS`` times). Return how
        many messages were done."""
        with self.engine.begin() as conn:
            updates = slack_messages.take_message_updates(
                conn, limit=SYNC_BATCH, lease=SYNC_LEASE_SECONDS, max_attempts=SYNC_MAX_ATTEMPTS
            )
        done = 0
        for update in updates:
            try:
                done += self._sync_one(ctx, update)
            except Exception as exc:  # one broken row must not stop the others
                log.exception("Slack message update %d failed", update.id)
                self._failed(update, f"{type(exc).__name__}: {exc}", None)
        return done

    def _sync_one(self, ctx: SendContext, update: MessageUpdate) -> int:
        config = validate_config("slack", reveal(update.config, self.settings))
        assert isinstance(config, SlackConfig)
        if not update.replied and update.reply:
            outcome = reply_in_thread(ctx, config, update.receipt, update.reply)
            if outcome.kind is not OutcomeKind.SUCCEEDED:
                self._failed(update, outcome.error or "reply failed", outcome.retry_after)
                return 0
            with self.engine.begin() as conn:
                slack_messages.message_replied(conn, update.id)
        resolution = Resolution(
            decision=Decision(update.decision) if update.decision else None,
            decided_by=update.decided_by_id,
            decided_at=update.decided_at,
            acked_by=update.acked_by_id,
            acked_at=update.acked_at,
        )
        event = as_event(update.event)
        outcome = update_message(ctx, config, event, update.receipt, resolution, datetime.now(UTC))
        if outcome.kind is not OutcomeKind.SUCCEEDED:
            self._failed(update, outcome.error or "update failed", outcome.retry_after)
            return 0
        with self.engine.begin() as conn:
            slack_messages.finish_message_update(conn, update.id)
        return 1

    def _failed(self, update: MessageUpdate, error: str, retry_after: float | None) -> None:
        delay = retry_after or min(2.0**update.attempts, 300.0)
        log.warning("Slack message %s not updated yet: %s", update.receipt, error)
        with self.engine.begin() as conn:
            slack_messages.message_update_failed(conn, update.id, error, delay)
