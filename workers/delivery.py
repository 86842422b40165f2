"""Delivering one task's batch: claim the rows, send each through its destination kind,
record the attempts, hand back what was not sent.

The statements are ``router.db.claims``: three per batch whatever its size (load the
destination, claim, record), in two transactions (loading and claiming share one). Every
one is safe to repeat, so a Postgres outage is waited out, not fatal.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from pydantic import BaseModel, ValidationError
from sqlalchemy import Connection, Engine

from eventrouter.router import telemetry
from eventrouter.router.crypto import reveal
from eventrouter.router.db import claims, destination_state
from eventrouter.router.db.claims import AttemptRow, ClaimedDelivery, Deferral, DestinationRecord
from eventrouter.router.destinations import KINDS, Outcome, OutcomeKind, SendContext
from eventrouter.router.destinations.base import DestinationKind
from eventrouter.router.destinations.people import addressed
from eventrouter.router.errors import ConfigError
from eventrouter.router.settings import Settings
from eventrouter.workers.bookkeeping import (
    AttemptResult,
    BatchSummary,
    next_state,
    paced_seconds,
    policy_for,
    recordable_status,
)
from eventrouter.workers.lanes import InFlight, Lanes
from eventrouter.workers.outage import with_database
from eventrouter.workers.pacing import SlowDestinations
from eventrouter.workers.retry import RetryPolicy

log = logging.getLogger("eventrouter.worker")
FLUSH_SECONDS = 1.0
"""A batch running longer than this records what it has sent so far before going on."""
INTERRUPTED = "interrupted by the task's time limit before an answer; outcome unknown"


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

    def make_batch(destination: DestinationRecord, token: str) -> BatchDelivery:
        return BatchDelivery(
            engine,
            ctx,
            settings,
            destination,
            policy=policy,
            stop=stop,
            pacer=pacer,
            interrupted_by=interrupted_by,
            token=token,
        )

    patience = time.monotonic() + settings.dispatch_grace_seconds
    if pacer is None or not pacer.is_slow(destination_id):
        return _load_and_run(engine, destination_id, delivery_ids, patience, make_batch)
    with pacer.slot(engine, destination_id) as free:
        if free:
            return _load_and_run(engine, destination_id, delivery_ids, patience, make_batch)
    delay = settings.delivery_time_box_seconds
    deferred = with_database(
        engine,
        patience,
        lambda conn: claims.defer_task(conn, destination_id, delivery_ids, delay),
    )
    return BatchSummary(deferred=deferred)


def _load_and_run(
    engine: Engine,
    destination_id: int,
    delivery_ids: Sequence[int],
    patience: float,
    make_batch: Callable[[DestinationRecord, str], BatchDelivery],
) -> BatchSummary:
    """Load the destination and claim the rows in one transaction (a round trip and a
    commit fewer per task than two), then send them; a removed or disabled destination's
    rows are cancelled instead."""
    token = str(uuid.uuid4())  # the same for every try: a repeated claim finds what it took

    def load_and_claim(conn: Connection) -> tuple[BatchDelivery | None, list[ClaimedDelivery], int]:
        destination = claims.load_destination(conn, destination_id)
        if destination is None or not destination.enabled:
            reason = "destination removed" if destination is None else "destination disabled"
            return None, [], claims.cancel_pending_of_task(conn, delivery_ids, reason)
        batch = make_batch(destination, token)
        return batch, batch.claim_in(conn, delivery_ids), 0

    batch, todo, cancelled = with_database(engine, patience, load_and_claim)
    if batch is None:
        return BatchSummary(cancelled=cancelled)
    return batch.send_claimed(todo)


class BatchDelivery:
    """One task's batch to one destination: ``claim``, ``send`` over lanes, ``flush`` what
    was sent as it goes, and at the end flush the rest and ``release`` what was not sent.

    Every write of the batch is matched by the claim's token (``router.db.claims``).
    """

    def __init__(
        self,
        engine: Engine,
        ctx: SendContext,
        settings: Settings,
        destination: DestinationRecord,
        *,
        policy: RetryPolicy | None = None,
        stop: Callable[[], bool] = _never,
        pacer: SlowDestinations | None = None,
        interrupted_by: tuple[type[BaseException], ...] = (),
        token: str | None = None,
    ) -> None:
        self.engine = engine
        self.ctx = ctx
        self.settings = settings
        self.destination = destination
        self.policy = policy or policy_for(destination, settings)
        self.stop = stop
        self.pacer = pacer
        self.interrupted_by = interrupted_by
        self.summary = BatchSummary()
        self.kind, self.config, self.config_error = _configure(destination, settings)
        timeout = getattr(self.config, "timeout", None) or ctx.default_timeout
        # Worst case a request starts just before the time box ends and runs to its timeout.
        self.lease = settings.delivery_time_box_seconds + timeout + settings.lease_seconds
        self.token = token or str(uuid.uuid4())
        self._lease_ends = 0.0

    def run(self, delivery_ids: Sequence[int]) -> BatchSummary:
        """Send what is still pending of ``delivery_ids``; return what became of them."""
        return self.send_claimed(self.claim(delivery_ids))

    def send_claimed(self, todo: list[ClaimedDelivery]) -> BatchSummary:
        """Send the rows this batch claimed; return what became of them."""
        box_ends = time.monotonic() + self.settings.delivery_time_box_seconds
        # A batch goes out over a few lanes (delivery_lanes; a slow destination gets more),
        # so a process is not idle for each request's whole round trip.
        pacer = self.pacer
        slow = pacer is not None and pacer.is_slow(self.destination.id)
        width = self.settings.slow_destination_concurrency if slow else self.settings.delivery_lanes
        threshold = pacer.threshold if pacer is not None else float("inf")
        watch = pacer is not None and not slow
        stop = self.stop

        def go_on() -> bool:
            return not stop() and time.monotonic() < box_ends

        def answered_slowly(result: AttemptResult) -> bool:
            return paced_seconds(result, threshold) >= threshold

        lanes = Lanes(
            self.send, todo, width, go_on=go_on, after_each=answered_slowly if watch else None
        ).start()
        durations: list[float] = []
        flushed_at = time.monotonic()
        turned_slow = False
        # The watcher wakes this often: a request out for the threshold marks the
        # destination slow within a quarter of it, and recording keeps its pace.
        tick = min(threshold, FLUSH_SECONDS) / 4
        try:
            while not lanes.wait(tick):
                now = time.monotonic()
                oldest = lanes.oldest_began() if watch and not turned_slow else None
                if pacer is not None and oldest is not None and now - oldest >= threshold:
                    # Still out after the threshold: slow, for every worker process at once
                    # (workers.pacing), rather than when its answer comes. No new request
                    # starts, so the rest goes back and its next tasks go through the slow
                    # destination's slots instead of holding this process for the whole
                    # time box (measured in bench/: with 3 processes each learning only at
                    # the end of its box, the other destinations kept 40% of their
                    # throughput).
                    turned_slow = True
                    pacer.mark_slow(self.destination.id)
                    lanes.halt()
                if now - flushed_at >= FLUSH_SECONDS:
                    # Record as we go, so a worker killed mid-batch repeats little.
                    results = lanes.take_results()
                    durations.extend(paced_seconds(r, threshold) for r in results)
                    self.flush(results)
                    flushed_at = time.monotonic()
        except self.interrupted_by:
            results, in_flight, unsent = lanes.take_all()
            self._interrupted(results, in_flight, unsent)
            raise
        except BaseException:
            lanes.halt()  # the task fails: start nothing more
            raise
        results, _, todo = lanes.take_all()
        durations.extend(paced_seconds(r, threshold) for r in results)
        turned_slow = turned_slow or (watch and max(durations, default=0.0) >= threshold)
        if pacer is not None and turned_slow:
            pacer.mark_slow(self.destination.id)
        elif pacer is not None:
            pacer.observe(self.destination.id, durations)
        self.flush(results, release=todo)
        if todo:
            why = "it answers slowly" if turned_slow else "time box reached"
            log.info(
                "destination %s: %d deliveries handed back (%s)",
                self.destination.name,
                len(todo),
                "shutting down" if self.stop() else why,
            )
        return self.summary

    def _interrupted(
        self,
        results: list[AttemptResult],
        in_flight: Sequence[InFlight],
        todo: Sequence[ClaimedDelivery],
    ) -> None:
        """Stopped from outside mid-batch (the task's soft time limit): the requests in
        flight may or may not have arrived, so they count as attempts to try again; the
        rest was never sent and goes back to pending. Nothing stays 'delivering'."""
        now = time.monotonic()
        results.extend(
            AttemptResult(
                f.delivery, Outcome.retry(INTERRUPTED), f.started_at, int((now - f.began) * 1000)
            )
            for f in in_flight
        )
        self.flush(results, release=todo)
        log.warning(
            "destination %s: interrupted mid-batch; %d in flight recorded for retry, %d handed "
            "back",
            self.destination.name,
            len(in_flight),
            len(todo),
        )

    def claim(self, delivery_ids: Sequence[int]) -> list[ClaimedDelivery]:
        """Claim the rows under this batch's token, waiting out an outage up to the
        dispatch grace period (after it the scheduler dispatches them again)."""
        return with_database(
            self.engine,
            time.monotonic() + self.settings.dispatch_grace_seconds,
            lambda conn: self.claim_in(conn, delivery_ids),
        )

    def claim_in(self, conn: Connection, delivery_ids: Sequence[int]) -> list[ClaimedDelivery]:
        """``claim`` within the caller's transaction."""
        claimed = claims.claim(
            conn, self.destination.id, delivery_ids, lease_seconds=self.lease, token=self.token
        )
        self._lease_ends = time.monotonic() + self.lease
        self.summary.claimed = len(claimed)
        return claimed

    def send(self, delivery: ClaimedDelivery) -> AttemptResult:
        """One attempt; whatever the destination kind raises fails this delivery alone."""
        started_at = datetime.now(UTC)
        began = time.perf_counter()
        config = self.config
        if config is not None and delivery.address is not None:
            config = addressed(self.destination.kind, config, delivery.address)
        if self.kind is None or config is None:
            error = (
                self.config_error or f"a {self.destination.kind} destination cannot reach a person"
            )
            outcome = Outcome.failed(error)
        else:
            try:
                outcome = self.kind.send(delivery.event, config, delivery.attempt, self.ctx)
            except self.interrupted_by:
                raise
            except Exception as exc:  # a poison delivery fails alone, never the batch
                log.exception(
                    "destination %s raised on delivery %d", self.destination.name, delivery.id
                )
                outcome = Outcome.failed(
                    f"could not build the request: {type(exc).__name__}: {exc}"
                )
        elapsed_ms = int((time.perf_counter() - began) * 1000)
        return AttemptResult(delivery, outcome, started_at, elapsed_ms)

    def flush(
        self, results: Sequence[AttemptResult], *, release: Sequence[ClaimedDelivery] = ()
    ) -> None:
        """Record ``results`` and hand ``release`` back to ``pending``, in one transaction.

        Tried until just before the lease runs out; after that the scheduler takes the
        rows back and they are sent again.
        """
        deferred = [
            Deferral(r.delivery.id, r.outcome.retry_after or 1.0, r.outcome.error)
            for r in results
            if r.outcome.kind is OutcomeKind.DEFERRED
        ]
        attempted = [r for r in results if r.outcome.kind is not OutcomeKind.DEFERRED]
        rows = self._attempt_rows(attempted)
        unsent = [d.id for d in release]
        gone = next((r.outcome for r in attempted if r.outcome.disable_destination), None)

        def statements(conn: Connection) -> tuple[int, set[int], int, int]:
            held_back = claims.defer_deliveries(conn, self.token, deferred)
            mine = claims.record_attempts(conn, self.token, rows)
            released = claims.release_unsent(conn, self.token, unsent)
            cancelled = self._disable(conn, gone.error) if gone is not None else 0
            return held_back, mine, released, cancelled

        if not (deferred or rows or unsent):
            return
        held_back, mine, released, cancelled = with_database(
            self.engine, self._lease_ends - 1.0, statements
        )
        summary = self.summary
        summary.deferred += held_back
        summary.released += released
        summary.cancelled += cancelled
        for row in rows:
            if row.delivery_id not in mine:
                summary.stale += 1
            elif row.status == "succeeded":
                summary.succeeded += 1
            elif row.status == "pending":
                summary.retrying += 1
            else:
                summary.failed += 1
        telemetry.add(
            self.settings,
            telemetry.attempt_counts(
                self.destination.kind,
                ((r.outcome, r.status, r.duration_ms) for r in rows if r.delivery_id in mine),
            ),
        )
        if gone is not None:
            log.warning("destination %s disabled: %s", self.destination.name, gone.error)

    def _attempt_rows(self, results: Sequence[AttemptResult]) -> list[AttemptRow]:
        now = datetime.now(UTC)
        rows: list[AttemptRow] = []
        for result in results:
            status, next_at, last_error = next_state(result, self.policy, now)
            outcome = result.outcome
            rows.append(
                AttemptRow(
                    result.delivery.id,
                    result.delivery.attempt,
                    result.started_at,
                    result.duration_ms,
                    outcome.kind.value,
                    recordable_status(outcome.http_status),
                    outcome.error,
                    outcome.response_body,
                    status,
                    next_at,
                    last_error,
                    outcome.receipt,
                )
            )
        return rows

    def _disable(self, conn: Connection, error: str | None) -> int:
        """The destination said it is gone (410): disable it and cancel its open rows."""
        reason = f"disabled automatically: {error}"
        destination_state.disable_destination(conn, self.destination.id, reason)
        return destination_state.cancel_open_deliveries(conn, self.destination.id, reason)


def _configure(
    destination: DestinationRecord, settings: Settings
) -> tuple[DestinationKind | None, BaseModel | None, str]:
    """The destination's kind and validated config (secrets revealed), or why not."""
    kind = KINDS.get(destination.kind)
    if kind is None:
        return None, None, f"destination type {destination.kind!r} is not supported by this worker"
    try:
        return kind, kind.config_model.model_validate(reveal(destination.config, settings)), ""
    except ValidationError as exc:
        return kind, None, f"destination config is invalid: {exc.errors()[0]['msg']}"
    except ConfigError as exc:  # sealed secrets and no (or the wrong) key on this worker
        return kind, None, str(exc)
