"""Every statement on the hot path, in one place, with the reason for its shape.

Bulk statements take parallel arrays and ``unnest`` them: one round trip per batch,
whatever its size. ``CAST(:x AS type[])`` is used instead of ``::`` so SQLAlchemy's
bind-parameter parsing stays unambiguous.
"""

from __future__ import annotations

from sqlalchemy import TextClause, text


def _sql(statement: str) -> TextClause:
    return text(statement)


CONFIG_VERSION = _sql("SELECT version FROM config_version WHERE id = 1")

ROUTING_CHANNELS = _sql("SELECT id, org, env, pattern, is_system FROM channels")
ROUTING_SUBSCRIPTIONS = _sql(
    """
    SELECT s.id, s.org, s.env, s.enabled,
           COALESCE(array_agg(DISTINCT sc.channel_id)
                    FILTER (WHERE sc.channel_id IS NOT NULL), '{}') AS channel_ids,
           COALESCE(array_agg(DISTINCT sd.destination_id)
                    FILTER (WHERE sd.destination_id IS NOT NULL), '{}') AS destination_ids
    FROM subscriptions s
    LEFT JOIN subscription_channels sc ON sc.subscription_id = s.id
    LEFT JOIN subscription_destinations sd ON sd.subscription_id = s.id
    GROUP BY s.id
    """
)
ROUTING_ENABLED_DESTINATIONS = _sql("SELECT id FROM destinations WHERE enabled")

# Originals already stored for idempotency keys seen in a batch.
EXISTING_IDEMPOTENCY_KEYS = _sql(
    """
    SELECT org, idempotency_key, id FROM events
    WHERE idempotency_key = ANY(CAST(:keys AS text[])) AND duplicate_of IS NULL
    """
)

# A replayed stream entry carries an id that already exists: DO NOTHING makes it a no-op,
# and RETURNING tells which events are new (only those get deliveries).
INSERT_EVENTS = _sql(
    """
    INSERT INTO events (id, name, org, env, payload, idempotency_key, duplicate_of, published_at)
    SELECT * FROM unnest(
        CAST(:ids AS uuid[]), CAST(:names AS text[]), CAST(:orgs AS text[]),
        CAST(:envs AS text[]), CAST(:payloads AS jsonb[]), CAST(:keys AS text[]),
        CAST(:duplicate_of AS uuid[]), CAST(:published_at AS timestamptz[]))
    ON CONFLICT DO NOTHING
    RETURNING id
    """
)
EXISTING_EVENT_IDS = _sql("SELECT id FROM events WHERE id = ANY(CAST(:ids AS uuid[]))")

INSERT_DELIVERIES = _sql(
    """
    INSERT INTO deliveries (event_id, destination_id, subscription_id, dispatched_at)
    SELECT e, d, s, now() FROM unnest(
        CAST(:event_ids AS uuid[]), CAST(:destination_ids AS int[]),
        CAST(:subscription_ids AS int[])) AS t(e, d, s)
    ON CONFLICT (event_id, destination_id) DO NOTHING
    RETURNING id, destination_id
    """
)

INSERT_REJECTED = _sql(
    """
    INSERT INTO rejected_events (stream_id, reason, raw)
    SELECT * FROM unnest(CAST(:stream_ids AS text[]), CAST(:reasons AS text[]),
                         CAST(:raws AS text[]))
    """
)

# Scheduler: deliveries whose worker vanished go back to pending, with an attempt row
# saying so, so attempt_count and the attempt log stay in step.
RECLAIM_EXPIRED_LEASES = _sql(
    """
    WITH lost AS (
        SELECT id FROM deliveries
        WHERE status = 'delivering' AND lease_expires_at < now()
        ORDER BY lease_expires_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    ), reset AS (
        UPDATE deliveries d
        SET status = 'pending', next_attempt_at = now(), dispatched_at = NULL,
            lease_expires_at = NULL, updated_at = now(),
            last_error = 'worker lost during the attempt (lease expired)'
        FROM lost WHERE d.id = lost.id
        RETURNING d.id, d.attempt_count
    )
    INSERT INTO delivery_attempts
        (delivery_id, attempt_number, started_at, duration_ms, outcome, error)
    SELECT id, attempt_count, now(), 0, 'retry',
           'worker lost during the attempt (lease expired); retrying'
    FROM reset
    RETURNING delivery_id
    """
)

# Due work: new deliveries whose dispatch was lost, retries whose time has come, and
# rows put back by `eventrouter retry`. SKIP LOCKED lets several routers share the scan.
DISPATCH_DUE = _sql(
    """
    WITH due AS (
        SELECT id FROM deliveries
        WHERE status = 'pending' AND next_attempt_at <= now()
          AND destination_id IS NOT NULL
          AND (dispatched_at IS NULL
               OR dispatched_at < now() - make_interval(secs => :grace))
        ORDER BY next_attempt_at
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE deliveries d SET dispatched_at = now()
    FROM due WHERE d.id = due.id
    RETURNING d.id, d.destination_id
    """
)

# Worker: take the rows of a task that are still ours to send. A duplicate task (Celery
# redelivery) finds them no longer pending and sends nothing.
CLAIM = _sql(
    """
    WITH claimed AS (
        UPDATE deliveries
        SET status = 'delivering', attempt_count = attempt_count + 1,
            lease_expires_at = now() + make_interval(secs => :lease), updated_at = now()
        WHERE id = ANY(CAST(:ids AS bigint[])) AND destination_id = :destination_id
          AND status = 'pending' AND next_attempt_at <= now() + interval '1 second'
        RETURNING id, event_id, attempt_count
    )
    SELECT c.id, c.attempt_count, e.id AS event_id, e.name, e.org, e.env, e.payload,
           e.published_at
    FROM claimed c JOIN events e ON e.id = c.event_id
    ORDER BY c.id
    """
)

LOAD_DESTINATION = _sql(
    "SELECT id, org, name, kind, config, enabled, retry_schedule FROM destinations WHERE id = :id"
)

CANCEL_PENDING_OF_TASK = _sql(
    """
    UPDATE deliveries SET status = 'cancelled', last_error = :reason, updated_at = now(),
                          dispatched_at = NULL
    WHERE id = ANY(CAST(:ids AS bigint[])) AND status = 'pending'
    """
)

INSERT_ATTEMPTS = _sql(
    """
    INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms,
                                   outcome, http_status, error, response_body)
    SELECT * FROM unnest(
        CAST(:delivery_ids AS bigint[]), CAST(:attempt_numbers AS int[]),
        CAST(:started_at AS timestamptz[]), CAST(:durations AS int[]),
        CAST(:outcomes AS text[]), CAST(:statuses AS int[]), CAST(:errors AS text[]),
        CAST(:bodies AS text[]))
    """
)

RECORD_STATES = _sql(
    """
    UPDATE deliveries d
    SET status = v.status,
        next_attempt_at = COALESCE(v.next_at, d.next_attempt_at),
        dispatched_at = NULL, lease_expires_at = NULL, last_error = v.error,
        updated_at = now()
    FROM unnest(CAST(:ids AS bigint[]), CAST(:statuses AS text[]),
                CAST(:next_at AS timestamptz[]), CAST(:errors AS text[]))
         AS v(id, status, next_at, error)
    WHERE d.id = v.id AND d.status = 'delivering'
    """
)

DISABLE_DESTINATION = _sql(
    """
    UPDATE destinations SET enabled = false, disabled_reason = :reason, updated_at = now()
    WHERE id = :id AND enabled
    """
)

CANCEL_OPEN_DELIVERIES = _sql(
    """
    UPDATE deliveries SET status = 'cancelled', last_error = :reason, updated_at = now(),
                          dispatched_at = NULL, lease_expires_at = NULL
    WHERE destination_id = :destination_id AND status = 'pending'
    """
)
