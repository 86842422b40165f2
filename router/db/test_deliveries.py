"""Test notifications as the control plane records them: an event and its one delivery
made by hand, then the attempt and the delivery's final state once the send is done.

The row is ours while we send: it is written already 'delivering' under a lease and a
claim token, as a worker's claim would leave it, so no router or worker sends it too.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from eventrouter.router.people.merge import Addressee

# An event and a delivery made by hand, already 'delivering' under a lease and a claim token
# (as a worker's claim would), so no router or worker sends it while the control plane does.
_INSERT_TEST_EVENT = text(
    """
    INSERT INTO events (id, name, org, env, payload, published_at, is_test)
    VALUES (:id, :name, :org, :env, CAST(:payload AS jsonb), now(), true)
    """
)
_INSERT_TEST_DELIVERY = text(
    """
    INSERT INTO deliveries (id, event_id, destination_id, status, attempt_count,
                            lease_expires_at, claim_token, user_id, recipient, address)
    VALUES (eventrouter_delivery_id(now()), :event_id, :destination_id,
            'delivering', 1, now() + make_interval(secs => :lease), CAST(:token AS uuid),
            :user_id, :recipient, :address)
    RETURNING id
    """
)
# The attempt row and the delivery's final state, in one statement, only while the
# delivery is still ours: same claim token, still delivering. Repeated after a lost commit
# acknowledgement it changes nothing, even if a worker has claimed the row since.
_FINISH_TEST_DELIVERY = text(
    """
    WITH updated AS (
        UPDATE deliveries
        SET status = :status, last_error = CAST(:error AS text), lease_expires_at = NULL,
            updated_at = now(),
            next_attempt_at = COALESCE(
                now() + make_interval(secs => CAST(:defer AS double precision)), next_attempt_at),
            attempt_count = attempt_count
                - CASE WHEN CAST(:outcome AS text) IS NULL THEN 1 ELSE 0 END
        WHERE id = :id AND status = 'delivering' AND claim_token = CAST(:token AS uuid)
        RETURNING id
    )
    INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms,
                                   outcome, http_status, error, response_body)
    SELECT id, 1, :started_at, :duration_ms, CAST(:outcome AS text), :http_status,
           CAST(:error AS text), :body
    FROM updated WHERE CAST(:outcome AS text) IS NOT NULL
    """
)


def insert_test_delivery(
    conn: Connection,
    *,
    event_id: str,
    name: str,
    org: str,
    env: str | None,
    payload: dict[str, Any],
    destination_id: int,
    lease_seconds: float,
    token: str,
    person: Addressee | None = None,
) -> int:
    """Store a test event and its one delivery, held by the caller under ``token``; the
    delivery's id. A test to a ``person`` is their row (``user:<email>/<medium>``), so a
    worker that sends it after a rate-limit wait sends it to them too."""
    conn.execute(
        _INSERT_TEST_EVENT,
        {"id": event_id, "name": name, "org": org, "env": env, "payload": json.dumps(payload)},
    )
    params = {
        "event_id": event_id,
        "destination_id": destination_id,
        "lease": lease_seconds,
        "token": token,
        "user_id": person.user_id if person else None,
        "recipient": person.recipient if person else None,
        "address": person.address if person else None,
    }
    return int(conn.execute(_INSERT_TEST_DELIVERY, params).scalar_one())


def finish_test_delivery(
    conn: Connection,
    delivery_id: int,
    *,
    token: str,
    status: str,
    outcome: str | None,
    started_at: datetime,
    duration_ms: int,
    http_status: int | None,
    error: str | None,
    body: str | None,
    defer_seconds: float | None,
) -> None:
    """Record the test's attempt and final state; with ``outcome`` ``None`` (held back by the
    rate limit) no attempt is written and the delivery is due again after ``defer_seconds``."""
    conn.execute(
        _FINISH_TEST_DELIVERY,
        {
            "id": delivery_id,
            "token": token,
            "status": status,
            "outcome": outcome,
            "started_at": started_at,
            "duration_ms": duration_ms,
            "http_status": http_status,
            "error": error,
            "body": body,
            "defer": defer_seconds,
        },
    )
