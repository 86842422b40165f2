"""Delivery bookkeeping: claim rows, send each through its destination kind, record.

Three statements per batch whatever its size: one claim (which also loads the events),
one INSERT of attempt rows, one UPDATE of delivery states.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, Engine

from router.crypto import reveal
from router.db import sql
from router.durations import parse_schedule
from router.errors import ConfigError
from router.events import Event
from router.settings import Settings
from workers.destinations import KINDS, Outcome, OutcomeKind, SendContext
from workers.retry import RetryPolicy

log = logging.getLogger("eventrouter.worker")


@dataclass(frozen=True, slots=True)
class DestinationRecord:
    id: int
    org: str
    name: str
    kind: str
    config: dict[str, Any]
    enabled: bool
    retry_schedule: str | None


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    id: int
    attempt: int
    event: Event


@dataclass(frozen=True, slots=True)
class AttemptResult:
    delivery: ClaimedDelivery
    outcome: Outcome
    started_at: datetime
    duration_ms: int


@dataclass
class BatchSummary:
    claimed: int = 0
    succeeded: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    deferred: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def load_destination(conn: Connection, destination_id: int) -> DestinationRecord | None:
    row = conn.execute(sql.LOAD_DESTINATION, {"id": destination_id}).one_or_none()
    if row is None:
        return None
    return DestinationRecord(
        row.id, row.org, row.name, row.kind, row.config, row.enabled, row.retry_schedule
    )


def claim(
    conn: Connection, destination_id: int, delivery_ids: Sequence[int], lease_seconds: float
) -> list[ClaimedDelivery]:
    rows = conn.execute(
        sql.CLAIM,
        {"ids": list(delivery_ids), "destination_id": destination_id, "lease": lease_seconds},
    )
    return [
        ClaimedDelivery(
            row.id,
            row.attempt_count,
            Event(
                id=str(row.event_id),
                name=row.name,
                org=row.org,
                env=row.env,
                payload=row.payload,
                published_at=(row.published_at.timestamp() if row.published_at else None),
            ),
        )
        for row in rows
    ]


def next_state(
    result: AttemptResult, policy: RetryPolicy, now: datetime
) -> tuple[str, datetime | None, str | None]:
    """``(status, next_attempt_at, last_error)`` for a delivery after one attempt."""
    outcome = result.outcome
    if outcome.kind is OutcomeKind.SUCCEEDED:
        return "succeeded", None, None
    if outcome.kind is OutcomeKind.FAILED:
        return "failed", None, outcome.error
    delay = policy.next_delay(result.delivery.attempt, outcome.retry_after)
    if delay is None:
        return "failed", None, f"gave up after {result.delivery.attempt} attempts: {outcome.error}"
    return "pending", now + timedelta(seconds=delay), outcome.error


def record(
    conn: Connection,
    destination: DestinationRecord,
    results: Sequence[AttemptResult],
    policy: RetryPolicy,
    summary: BatchSummary,
) -> None:
    """Write every attempt row and every new delivery state, in two statements (a third
    puts back deliveries the rate limiter deferred: they were not attempted)."""
    deferred = [r for r in results if r.outcome.kind is OutcomeKind.DEFERRED]
    if deferred:
        conn.execute(
            sql.DEFER_DELIVERIES,
            {
                "ids": [r.delivery.id for r in deferred],
                "after": [r.outcome.retry_after or 1.0 for r in deferred],
                "reasons": [r.outcome.error for r in deferred],
            },
        )
        summary.deferred += len(deferred)
        results = [r for r in results if r.outcome.kind is not OutcomeKind.DEFERRED]
    if not results:
        return
    now = datetime.now(UTC)
    conn.execute(
        sql.INSERT_ATTEMPTS,
        {
            "delivery_ids": [r.delivery.id for r in results],
            "attempt_numbers": [r.delivery.attempt for r in results],
            "started_at": [r.started_at for r in results],
            "durations": [r.duration_ms for r in results],
            "outcomes": [r.outcome.kind.value for r in results],
            "statuses": [r.outcome.http_status for r in results],
            "errors": [r.outcome.error for r in results],
            "bodies": [r.outcome.response_body for r in results],
        },
    )
    states = [next_state(r, policy, now) for r in results]
    conn.execute(
        sql.RECORD_STATES,
        {
            "ids": [r.delivery.id for r in results],
            "statuses": [s[0] for s in states],
            "next_at": [s[1] for s in states],
            "errors": [s[2] for s in states],
        },
    )
    for status, _, _ in states:
        if status == "succeeded":
            summary.succeeded += 1
        elif status == "pending":
            summary.retrying += 1
        else:
            summary.failed += 1
    gone = next((r.outcome for r in results if r.outcome.disable_destination), None)
    if gone is not None:
        reason = f"disabled automatically: {gone.error}"
        conn.execute(sql.DISABLE_DESTINATION, {"id": destination.id, "reason": reason})
        cancelled = conn.execute(
            sql.CANCEL_OPEN_DELIVERIES, {"destination_id": destination.id, "reason": reason}
        )
        summary.cancelled += cancelled.rowcount
        log.warning("destination %s disabled: %s", destination.name, gone.error)


def policy_for(destination: DestinationRecord, settings: Settings) -> RetryPolicy:
    if destination.retry_schedule is not None:
        return RetryPolicy(parse_schedule(destination.retry_schedule))
    return RetryPolicy(settings.retry_delays)


def deliver_batch(
    engine: Engine,
    ctx: SendContext,
    settings: Settings,
    destination_id: int,
    delivery_ids: Sequence[int],
    *,
    policy: RetryPolicy | None = None,
) -> BatchSummary:
    """Deliver what is still pending of ``delivery_ids`` to one destination.

    ``policy`` overrides the destination's retry schedule (``destinations test`` sends once).
    """
    summary = BatchSummary()
    with engine.begin() as conn:
        destination = load_destination(conn, destination_id)
        if destination is None or not destination.enabled:
            reason = "destination removed" if destination is None else "destination disabled"
            summary.cancelled = conn.execute(
                sql.CANCEL_PENDING_OF_TASK, {"ids": list(delivery_ids), "reason": reason}
            ).rowcount
            return summary
    kind = KINDS.get(destination.kind)
    config: BaseModel | None = None
    config_error = f"destination type {destination.kind!r} is not supported by this worker"
    if kind is not None:
        try:
            config = kind.config_model.model_validate(reveal(destination.config, settings))
        except ValidationError as exc:
            config_error = f"destination config is invalid: {exc.errors()[0]['msg']}"
        except ConfigError as exc:  # sealed secrets and no (or the wrong) key on this worker
            config_error = str(exc)
    timeout = getattr(config, "timeout", None) or ctx.default_timeout
    lease = timeout * len(delivery_ids) + settings.lease_seconds
    with engine.begin() as conn:
        claimed = claim(conn, destination_id, delivery_ids, lease)
    summary.claimed = len(claimed)
    results: list[AttemptResult] = []
    for delivery in claimed:
        started_at = datetime.now(UTC)
        began = time.perf_counter()
        if kind is None or config is None:
            outcome = Outcome.failed(config_error)
        else:
            try:
                outcome = kind.send(delivery.event, config, delivery.attempt, ctx)
            except Exception as exc:  # a poison delivery fails alone, never the batch
                log.exception("destination %s raised on delivery %d", destination.name, delivery.id)
                outcome = Outcome.failed(
                    f"could not build the request: {type(exc).__name__}: {exc}"
                )
        duration_ms = int((time.perf_counter() - began) * 1000)
        results.append(AttemptResult(delivery, outcome, started_at, duration_ms))
    with engine.begin() as conn:
        record(conn, destination, results, policy or policy_for(destination, settings), summary)
    return summary
