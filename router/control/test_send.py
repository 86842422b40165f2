"""Test notifications: send ``eventrouter:test`` to one destination now and say what happened.

The control plane sends it itself, through the destination kind's own ``send`` and the same
guarded HTTP client workers use, so a test proves what a real delivery would do. The event,
its delivery and the attempt are recorded like any other (``eventrouter show`` has them);
it is tried once, never retried. Held back by the destination's rate limit, it is left to a
worker, due when the limit allows.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from pydantic import ValidationError
from sqlalchemy import Engine

from eventrouter.router.crypto import reveal
from eventrouter.router.db import pg_text, test_deliveries, translating_errors
from eventrouter.router.db.config import StoredDestination
from eventrouter.router.destinations import Outcome, OutcomeKind, kind_named
from eventrouter.router.destinations.context import make_send_context
from eventrouter.router.destinations.people import addressed
from eventrouter.router.errors import ConfigError
from eventrouter.router.events import Event, new_event_id
from eventrouter.router.models.configuration import TestResult
from eventrouter.router.models.history import DeliveryStatus
from eventrouter.router.people.merge import Addressee
from eventrouter.router.settings import Settings

TEST_EVENT = "eventrouter:test"
RATE_LIMIT_WAIT = 30.0
"""A test waits this long for a rate-limit slot (a worker defers after 2 s)."""


def send_test(
    engine: Engine,
    settings: Settings,
    org: str,
    destination: StoredDestination,
    *,
    env: str | None,
    person: Addressee | None = None,
) -> TestResult:
    """Send the test through ``destination``; to ``person`` (their address instead of the
    destination's own ``to``/``channel``) when given, as their deliveries are sent."""
    kind = kind_named(destination.kind)
    try:
        config = kind.config_model.model_validate(reveal(destination.config, settings))
    except ValidationError as exc:
        raise ConfigError(f"destination config is invalid: {exc.errors()[0]['msg']}") from None
    target = f"destination {destination.name}"
    if person is not None:
        to_person = addressed(destination.kind, config, person.address)
        if to_person is None:
            raise ConfigError(f"a {destination.kind} destination cannot reach a person")
        config, target = to_person, person.recipient
    event = Event(
        id=new_event_id(),
        name=TEST_EVENT,
        org=org,
        env=env,
        payload={
            "message": f"Test notification from eventrouter to {target}.",
            "destination": destination.name,
            "severity": "info",
        },
    )
    timeout = getattr(config, "timeout", None) or settings.request_timeout_seconds
    token = str(uuid.uuid4())
    with translating_errors(settings.database_url), engine.begin() as conn:
        delivery_id = test_deliveries.insert_test_delivery(
            conn,
            event_id=event.id,
            name=event.name,
            org=org,
            env=env,
            payload=event.payload,
            destination_id=destination.id,
            lease_seconds=RATE_LIMIT_WAIT + timeout + settings.lease_seconds,
            token=token,
            person=person,
        )
    ctx = make_send_context(settings, rate_limit_wait=RATE_LIMIT_WAIT)
    started_at = datetime.now(UTC)
    began = time.perf_counter()
    try:
        outcome = kind.send(event, config, 1, ctx)
    except Exception as exc:  # a broken adapter is a failed test, not a crash
        outcome = Outcome.failed(f"could not build the request: {type(exc).__name__}: {exc}")
    finally:
        ctx.http.close()
    duration_ms = int((time.perf_counter() - began) * 1000)
    held = outcome.kind is OutcomeKind.DEFERRED
    if held:
        status = DeliveryStatus.PENDING
    elif outcome.kind is OutcomeKind.SUCCEEDED:
        status = DeliveryStatus.SUCCEEDED
    else:
        status = DeliveryStatus.FAILED
    with translating_errors(settings.database_url), engine.begin() as conn:
        test_deliveries.finish_test_delivery(
            conn,
            delivery_id,
            token=token,
            status=status.value,
            outcome=None if held else outcome.kind.value,
            started_at=started_at,
            duration_ms=duration_ms,
            http_status=outcome.http_status,
            error=pg_text(outcome.error),
            body=pg_text(outcome.response_body),
            defer_seconds=(outcome.retry_after or 1.0) if held else None,
        )
    return TestResult(
        destination=destination.name,
        event_id=event.id,
        delivery_id=delivery_id,
        succeeded=status is DeliveryStatus.SUCCEEDED,
        status=status,
        outcome=None if held else outcome.kind.value,
        http_status=outcome.http_status,
        error=outcome.error,
        response_body=outcome.response_body,
        duration_ms=None if held else duration_ms,
        next_attempt_at=(
            datetime.fromtimestamp(time.time() + (outcome.retry_after or 1.0), UTC)
            if held
            else None
        ),
    )


def summary(result: TestResult) -> str:
    """What a test send did, in one line (the CLI, the API's ``message``)."""
    if result.outcome is None:
        return f"held back by the rate limit; a worker sends it at {result.next_attempt_at}"
    status = f"HTTP {result.http_status}" if result.http_status else "no HTTP status"
    line = f"test notification to {result.destination}: {result.outcome} ({status}, "
    line += f"{result.duration_ms}ms)"
    return f"{line}: {result.error}" if result.error else line
