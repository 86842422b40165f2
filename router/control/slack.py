"""Requests from Slack: button clicks and slash commands, each verified by signature,
recorded, and turned into events.

Slack names no org: a request is genuine if one of the interactive Slack destinations'
signing secrets signed it, and it may act only on events those destinations showed
(clicks) or in their orgs (commands). The HTTP adapter answers Slack at once; what this
service returns as ``Notice``s (ephemeral notes to the person who clicked) is sent after.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine

from eventrouter.router.control.approvals import publish_ack, publish_decision
from eventrouter.router.crypto import reveal
from eventrouter.router.db import approvals as store
from eventrouter.router.db import clicks, details, ingest, translating_errors
from eventrouter.router.db.clicks import EventRow
from eventrouter.router.destinations import SendContext
from eventrouter.router.destinations.slack_api import respond
from eventrouter.router.destinations.slack_blocks import ACK, APPROVE, REJECT
from eventrouter.router.destinations.slack_requests import (
    BadRequest,
    Click,
    Command,
    parse_clicks,
    parse_command,
    split_command,
    verify,
)
from eventrouter.router.errors import ConfigError
from eventrouter.router.interactive import Decision, clock, iso
from eventrouter.router.settings import Settings

log = logging.getLogger("eventrouter.slack")
RESOLVED_EVENT = "incident:resolved"
MAX_RESOLUTION = 2000
USAGE = (
    'Usage: `/eventrouter ack EVENT_ID` · `/eventrouter resolve EVENT_ID "what was done"` · '
    "`/eventrouter status EVENT_ID`"
)


@dataclass(frozen=True, slots=True)
class Verified:
    """Who signed a request: the interactive destinations sharing the matching secret."""

    destination_ids: tuple[int, ...]
    orgs: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Notice:
    """An ephemeral note for the person who clicked, sent through the click's response_url."""

    response_url: str
    text: str


def _uuid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def _when(at: datetime | None) -> str:
    return clock(at) if at is not None else "?"


class SlackRequests:
    """Verify, record and publish what Slack sends. Not tied to a caller: Slack's signature
    is the authentication, and it decides the orgs a request may touch."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with translating_errors(self.settings.database_url), self.engine.begin() as conn:
            yield conn

    # -- authentication ------------------------------------------------------------------
    def verify(self, headers: Mapping[str, str], body: bytes, now: float | None = None) -> Verified:
        """Which destinations' secret signed ``body``; ``BadRequest`` if none did, the
        timestamp is more than 5 minutes off, or no destination is interactive."""
        with self._transaction() as conn:
            rows = clicks.interactive_destinations(conn)
        secrets: dict[str, list[tuple[int, str]]] = {}
        for destination_id, org, config in rows:
            try:
                secret = reveal(config, self.settings).get("signing_secret")
            except ConfigError:
                continue  # sealed and this host has no key: it cannot verify with it
            if isinstance(secret, str):
                secrets.setdefault(secret, []).append((destination_id, org))
        if not secrets:
            raise BadRequest("no Slack destination has a signing secret")
        matched = verify(
            secrets,
            timestamp=headers.get("x-slack-request-timestamp"),
            signature_header=headers.get("x-slack-signature"),
            body=body,
            now=datetime.now(UTC).timestamp() if now is None else now,
        )
        owners = secrets[matched]
        return Verified(tuple(d for d, _ in owners), tuple(sorted({org for _, org in owners})))

    # -- clicks --------------------------------------------------------------------------
    def handle_interaction(self, verified: Verified, body: bytes) -> list[Notice]:
        """Record and act on every click in an interaction payload; notes for the clicker."""
        notices = []
        for click in parse_clicks(body):
            note = self.click(verified, click)
            if note is not None and click.response_url is not None:
                notices.append(Notice(click.response_url, note))
        return notices

    def click(self, verified: Verified, click: Click) -> str | None:
        """One click; the ephemeral note for the clicker, if there is one."""
        if click.action not in (APPROVE, REJECT, ACK):
            return None  # a link button: Slack opened its URL, nothing to do
        event_id = _uuid(click.reference)
        with self._transaction() as conn:
            event = (
                None
                if event_id is None
                else clicks.event_sent_to(conn, event_id, verified.destination_ids)
            )
            if event is None:
                return "This button does not belong to an event eventrouter sent here."
            if click.action == ACK:
                result, note = self._ack(conn, event, click.user_id, click.user_name, "button")
            else:
                result, note = self._decide(conn, event, click)
            clicks.record_click(
                conn,
                org=event.org,
                event_id=event.id,
                action=click.action,
                user_id=click.user_id,
                user_name=click.user_name,
                result=result,
                channel=click.channel,
                ts=click.message_ts,
            )
        return note

    def _decide(self, conn: Connection, event: EventRow, click: Click) -> tuple[str, str | None]:
        state = store.approval(conn, event.id)
        if state is None:
            return "refused", "This message asks for no approval."
        if state.approvers and click.user_id not in state.approvers:
            allowed = ", ".join(f"<@{u}>" for u in state.approvers)
            return "refused", f"Only {allowed} may decide on this request."
        decision = Decision.APPROVED if click.action == APPROVE else Decision.REJECTED
        decided = store.decide(
            conn,
            event.id,
            decision.value,
            user_id=click.user_id,
            user_name=click.user_name,
            channel=click.channel,
            ts=click.message_ts,
        )
        if decided is None:
            now = store.approval(conn, event.id)
            return "late", self._already(now)
        publish_decision(conn, decided, event.payload)
        return "decided", None

    @staticmethod
    def _already(state: store.ApprovalState | None) -> str:
        if state is None or state.decision is None:
            return "This request was already decided."
        if state.decision == Decision.EXPIRED:
            return f"This request already expired at {_when(state.decided_at)}."
        return f"Already {state.decision} by <@{state.decided_by_id}> at {_when(state.decided_at)}."

    def _ack(
        self, conn: Connection, event: EventRow, user_id: str, user_name: str, via: str
    ) -> tuple[str, str | None]:
        at = store.acknowledge(
            conn,
            event.id,
            event.org,
            user_id=user_id,
            user_name=user_name,
            via=via,
        )
        if at is None:
            first = store.acknowledgement(conn, event.id)
            who = f"<@{first.acked_by_id}> at {_when(first.acked_at)}" if first else "someone"
            return "late", f"Already acknowledged by {who}."
        publish_ack(conn, event, user_id=user_id, user_name=user_name, at=at, via=via)
        return "acknowledged", None

    def send_notices(self, ctx: SendContext, notices: Sequence[Notice]) -> None:
        """Send the ephemeral notes (after Slack got its answer); a failure is only logged."""
        for notice in notices:
            outcome = respond(ctx, notice.response_url, notice.text)
            if outcome.error:
                log.warning("ephemeral Slack note not sent: %s", outcome.error)

    # -- slash commands ------------------------------------------------------------------
    def handle_command(self, verified: Verified, body: bytes) -> str:
        """Run ``/eventrouter ack|resolve|status EVENT_ID …``; the ephemeral answer."""
        command = parse_command(body)
        try:
            words = split_command(command.text)
        except BadRequest as exc:
            return f"{exc}. {USAGE}"
        if len(words) < 2 or words[0] not in ("ack", "resolve", "status"):
            return USAGE
        verb, reference, rest = words[0], words[1], words[2:]
        event_id = _uuid(reference)
        if event_id is None:
            return f"`{reference}` is not an event id (a UUID, as shown in the message)."
        if verb == "resolve" and (len(rest) != 1 or not rest[0].strip()):
            return 'Say what was done, in quotes: `/eventrouter resolve EVENT_ID "disk replaced"`'
        if verb != "resolve" and rest:
            return USAGE
        with self._transaction() as conn:
            event = clicks.event_in_orgs(conn, event_id, verified.orgs)
            if event is None:
                return f"No event `{event_id}` here."
            if verb == "status":
                return self._status(conn, event)
            if verb == "ack":
                result, note = self._ack(conn, event, command.user_id, command.user_name, "command")
                answer = note or f"Acknowledged `{event.name}` ({event.id})."
            else:
                result, answer = self._resolve(conn, event, command, rest[0].strip())
            clicks.record_click(
                conn,
                org=event.org,
                event_id=event.id,
                action=f"command:{verb}",
                user_id=command.user_id,
                user_name=command.user_name,
                result=result,
                channel=command.channel,
                ts=None,
            )
        return answer

    def _resolve(
        self, conn: Connection, event: EventRow, command: Command, resolution: str
    ) -> tuple[str, str]:
        """Publish ``incident:resolved`` once per event (a repeated command, or Slack's
        retry of it, finds the first and says so)."""
        first = clicks.first_resolution(conn, event.id)
        if first is not None:
            user_id, at = first
            return "late", f"Already resolved by <@{user_id}> at {clock(at)}."
        now = datetime.now(UTC)
        ingest.emit(
            conn,
            event.org,
            event.env,
            RESOLVED_EVENT,
            {
                "event_id": event.id,
                "event_name": event.name,
                "resolution": resolution[:MAX_RESOLUTION],
                "resolved_by": {"id": command.user_id, "name": command.user_name},
                "resolved_at": iso(now),
            },
        )
        return "resolved", f"Resolved `{event.name}` ({event.id}): {resolution[:MAX_RESOLUTION]}"

    @staticmethod
    def _status(conn: Connection, event: EventRow) -> str:
        detail = details.event_detail(conn, event.org, event.id)
        if detail is None:
            return f"No event `{event.id}` here."
        lines = [f"*{detail.name}* `{detail.id}` (org {detail.org}, env {detail.env or '-'})"]
        if not detail.deliveries:
            lines.append("No deliveries: nothing subscribed to it.")
        for delivery in detail.deliveries:
            line = (
                f"• {delivery.destination or '(removed)'}: {delivery.status}, "
                f"{delivery.attempt_count} attempt(s)"
            )
            if delivery.last_error:
                line += f" — {delivery.last_error[:200]}"
            lines.append(line)
        return "\n".join(lines)
