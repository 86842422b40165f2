"""Delivery bookkeeping: claim rows, send each through its destination kind, record.

Three statements per batch whatever its size: one to load the destination, one claim
(which also loads the events), one that writes attempt rows and delivery states
together. Every write is safe to repeat, so a Postgres outage is waited out, not fatal.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from eventrouter.router.crypto import reveal
from eventrouter.router.db import is_connection_error, pg_text, sql
from eventrouter.router.destinations import KINDS, Outcome, OutcomeKind, SendContext
from eventrouter.router.durations import parse_schedule
from eventrouter.router.errors import ConfigError, first_line
from eventrouter.router.events import Event
from eventrouter.router.settings import Settings
from eventrouter.workers.pacing import SlowDestinations
from eventrouter.workers.retry import RetryPolicy

log = logging.getLogger("eventrouter.worker")
T = TypeVar("T")
FLUSH_SECONDS = 1.0
"""A batch running longer than this records what it has sent so far before going on."""
INTERRUPTED = "interrupted by the task's time limit before an answer; outcome unknown"


@cache
def _threads(size: int) -> ThreadPoolExecutor:
    """The threads that send a wave of ``size`` requests; made once per process and size,
    on first use, i.e. after Celery's fork."""
    return ThreadPoolExecutor(size, thread_name_prefix="lane")


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
    released: int = 0
    """Claimed but not sent (time box or shutdown): back to ``pending``."""
    deferred: int = 0
    """Not attempted now: held back by the rate limiter, or the destination is slow and
    its worker slots were taken. Due again later; no attempt used."""
    stale: int = 0
    """Sent, but the lease had expired and the row was taken back before recording."""

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


def recordable_status(status: int | None) -> int | None:
    """An HTTP status as stored: only 100-599 (the transport refuses others, and a stray one
    must never make the whole batch's ``int[]`` statement fail)."""
    return status if status is not None and 100 <= status <= 599 else None


def record(
    conn: Connection,
    destination: DestinationRecord,
    results: Sequence[AttemptResult],
    policy: RetryPolicy,
    summary: BatchSummary,
) -> None:
    """Write every attempt row and every new delivery state, in one statement (a second
    puts back deliveries the rate limiter deferred: they were not attempted)."""
    deferred = [r for r in results if r.outcome.kind is OutcomeKind.DEFERRED]
    if deferred:
        summary.deferred += conn.execute(
            sql.DEFER_DELIVERIES,
            {
                "ids": [r.delivery.id for r in deferred],
                "attempts": [r.delivery.attempt for r in deferred],
                "after": [r.outcome.retry_after or 1.0 for r in deferred],
                "reasons": [pg_text(r.outcome.error) for r in deferred],
            },
        ).rowcount
        results = [r for r in results if r.outcome.kind is not OutcomeKind.DEFERRED]
    if not results:
        return
    now = datetime.now(UTC)
    states = [next_state(r, policy, now) for r in results]
    written = conn.execute(
        sql.RECORD_ATTEMPTS,
        {
            "delivery_ids": [r.delivery.id for r in results],
            "attempt_numbers": [r.delivery.attempt for r in results],
            "started_at": [r.started_at for r in results],
            "durations": [r.duration_ms for r in results],
            "outcomes": [r.outcome.kind.value for r in results],
            "statuses": [recordable_status(r.outcome.http_status) for r in results],
            "errors": [pg_text(r.outcome.error) for r in results],
            "bodies": [pg_text(r.outcome.response_body) for r in results],
            "states": [s[0] for s in states],
            "next_at": [s[1] for s in states],
            "last_errors": [pg_text(s[2]) for s in states],
        },
    )
    mine = {row.delivery_id for row in written}
    for result, (status, _, _) in zip(results, states, strict=True):
        if result.delivery.id not in mine:
            summary.stale += 1
        elif status == "succeeded":
            summary.succeeded += 1
        elif status == "pending":
            summary.retrying += 1
        else:
            summary.failed += 1
    gone = next((r.outcome for r in results if r.outcome.disable_destination), None)
    if gone is not None:
        reason = pg_text(f"disabled automatically: {gone.error}")
        conn.execute(sql.DISABLE_DESTINATION, {"id": destination.id, "reason": reason})
        cancelled = conn.execute(
            sql.CANCEL_OPEN_DELIVERIES, {"destination_id": destination.id, "reason": reason}
        )
        summary.cancelled += cancelled.rowcount
        log.warning("destination %s disabled: %s", destination.name, gone.error)


def release(conn: Connection, unsent: Sequence[ClaimedDelivery]) -> int:
    """Hand claimed rows that were never sent back to ``pending``, attempt count restored."""
    if not unsent:
        return 0
    return conn.execute(
        sql.RELEASE_UNSENT,
        {"ids": [d.id for d in unsent], "attempts": [d.attempt for d in unsent]},
    ).rowcount


def policy_for(destination: DestinationRecord, settings: Settings) -> RetryPolicy:
    if destination.retry_schedule is not None:
        try:
            # Clamped, not refused: a schedule stored before the bounds must not stop sends.
            return RetryPolicy(parse_schedule(destination.retry_schedule, clamp=True))
        except ValueError as exc:
            log.warning("destination %s: %s; using the default schedule", destination.name, exc)
    return RetryPolicy(settings.retry_delays)


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


def _never() -> bool:
    return False


def deliver_batch(
    engine: Engine,
    ctx: SendContext,
    settings: Settings,
    destination_id: int,
    delivery_ids: Sequence[int],
    *,
    policy: RetryPolicy | None = None,
    stop: Callable[[], bool] = _never,
    pacer: SlowDestinations | None = None,
    interrupted_by: tuple[type[BaseException], ...] = (),
) -> BatchSummary:
    """Deliver what is still pending of ``delivery_ids`` to one destination.

    ``policy`` overrides the destination's retry schedule (``destinations test`` sends once).
    ``interrupted_by``: exceptions that stop the task rather than fail one delivery (Celery's
    soft time limit is an ``Exception``); when one arrives mid-batch, what was sent is
    recorded, the requests in flight as retries, the unsent rest handed back, and it is
    raised again.

    The task is time-boxed: after ``delivery_time_box_seconds`` (or when ``stop()`` turns
    true, e.g. on SIGTERM) no new request starts and the unsent rest goes back to
    ``pending``. A slow destination is served only while holding one of its slots (see
    ``workers.pacing``); without a free slot the rows go back to the scheduler untouched.
    """
    summary = BatchSummary()
    patience = time.monotonic() + settings.dispatch_grace_seconds
    destination = with_database(engine, patience, lambda c: load_destination(c, destination_id))
    if destination is None or not destination.enabled:
        reason = "destination removed" if destination is None else "destination disabled"
        summary.cancelled = with_database(
            engine,
            patience,
            lambda c: (
                c.execute(
                    sql.CANCEL_PENDING_OF_TASK, {"ids": list(delivery_ids), "reason": reason}
                ).rowcount
            ),
        )
        return summary

    def deliver() -> BatchSummary:
        _deliver(
            engine,
            ctx,
            settings,
            destination,
            delivery_ids,
            policy,
            stop,
            pacer,
            summary,
            interrupted_by,
        )
        return summary

    if pacer is None or not pacer.is_slow(destination_id):
        return deliver()
    with pacer.slot(engine, destination_id) as free:
        if free:
            return deliver()
    summary.deferred = with_database(
        engine,
        patience,
        lambda c: (
            c.execute(
                sql.DEFER_TASK,
                {
                    "ids": list(delivery_ids),
                    "destination_id": destination_id,
                    "delay": settings.delivery_time_box_seconds,
                },
            ).rowcount
        ),
    )
    return summary


def _deliver(
    engine: Engine,
    ctx: SendContext,
    settings: Settings,
    destination: DestinationRecord,
    delivery_ids: Sequence[int],
    policy: RetryPolicy | None,
    stop: Callable[[], bool],
    pacer: SlowDestinations | None,
    summary: BatchSummary,
    interrupted_by: tuple[type[BaseException], ...],
) -> None:
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
    # Worst case a request starts just before the time box ends and runs to its timeout.
    lease = settings.delivery_time_box_seconds + timeout + settings.lease_seconds
    claimed = with_database(
        engine,
        time.monotonic() + settings.dispatch_grace_seconds,
        lambda c: claim(c, destination.id, delivery_ids, lease),
    )
    lease_ends = time.monotonic() + lease
    summary.claimed = len(claimed)
    box_ends = time.monotonic() + settings.delivery_time_box_seconds
    policy = policy or policy_for(destination, settings)

    def send(delivery: ClaimedDelivery) -> AttemptResult:
        started_at = datetime.now(UTC)
        began = time.perf_counter()
        if kind is None or config is None:
            outcome = Outcome.failed(config_error)
        else:
            try:
                outcome = kind.send(delivery.event, config, delivery.attempt, ctx)
            except interrupted_by:
                raise
            except Exception as exc:  # a poison delivery fails alone, never the batch
                log.exception("destination %s raised on delivery %d", destination.name, delivery.id)
                outcome = Outcome.failed(
                    f"could not build the request: {type(exc).__name__}: {exc}"
                )
        elapsed_ms = int((time.perf_counter() - began) * 1000)
        return AttemptResult(delivery, outcome, started_at, elapsed_ms)

    def write(results: list[AttemptResult], unsent: Sequence[ClaimedDelivery]) -> None:
        def statements(conn: Connection) -> None:
            record(conn, destination, results, policy, summary)
            summary.released += release(conn, unsent)

        # Keep trying until just before the lease runs out; after that the scheduler
        # takes the rows back and they are sent again.
        with_database(engine, lease_ends - 1.0, statements)

    # A batch goes out a wave of requests at a time (delivery_lanes; a slow destination's
    # waves are wider), so a process is not idle for each request's whole round trip.
    slow = pacer is not None and pacer.is_slow(destination.id)
    wave = settings.slow_destination_concurrency if slow else settings.delivery_lanes
    pool = _threads(wave) if wave > 1 else None
    todo = list(claimed)
    results: list[AttemptResult] = []
    durations: list[float] = []
    flushed_at = time.monotonic()
    turned_slow = False
    threshold = pacer.threshold if pacer is not None else float("inf")
    in_flight: list[ClaimedDelivery] = []
    wave_began = (datetime.now(UTC), time.perf_counter())
    try:
        while todo and not stop() and time.monotonic() < box_ends:
            in_flight, todo = todo[:wave], todo[wave:]
            wave_began = (datetime.now(UTC), time.perf_counter())
            sent = list(pool.map(send, in_flight)) if pool else [send(in_flight[0])]
            in_flight = []
            results.extend(sent)
            durations.extend(paced_seconds(r, threshold) for r in sent)
            if pacer is not None and not slow and max(durations[-len(sent) :]) >= threshold:
                # It just turned out slow: hand the rest back now, so its next tasks go
                # through the slow destination's slots instead of holding this process for
                # the whole time box (measured in bench/: with 3 processes each learning
                # only at the end of its box, the other destinations kept 40% of their
                # throughput).
                turned_slow = True
                break
            if todo and time.monotonic() - flushed_at >= FLUSH_SECONDS:
                # Record as we go, so a worker killed mid-batch repeats little.
                write(results, ())
                results, flushed_at = [], time.monotonic()
    except interrupted_by:
        # Stopped from outside mid-wave (the task's soft time limit): the requests in
        # flight may or may not have arrived, so they count as attempts to try again;
        # the rest was never sent and goes back to pending. Nothing stays 'delivering'.
        started_at, began = wave_began
        elapsed_ms = int((time.perf_counter() - began) * 1000)
        results.extend(
            AttemptResult(d, Outcome.retry(INTERRUPTED), started_at, elapsed_ms) for d in in_flight
        )
        write(results, todo)
        log.warning(
            "destination %s: interrupted mid-batch; %d in flight recorded for retry, %d handed "
            "back",
            destination.name,
            len(in_flight),
            len(todo),
        )
        raise
    if pacer is not None:
        pacer.observe(destination.id, durations)
    write(results, todo)
    if todo:
        log.info(
            "destination %s: %d deliveries handed back (%s)",
            destination.name,
            len(todo),
            "shutting down"
            if stop()
            else ("it answers slowly" if turned_slow else "time box reached"),
        )


def paced_seconds(result: AttemptResult, threshold: float) -> float:
    """How long an attempt counts for the slow-destination pacer: its duration, and at least
    the threshold when it ran into its timeout (a timeout always means slow)."""
    seconds = result.duration_ms / 1000
    return max(seconds, threshold) if result.outcome.timed_out else seconds
