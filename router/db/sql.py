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
#
# Shape, measured in bench/: the task's rows are read by primary key alone, in a
# MATERIALIZED step, and conditions are checked there. Given them on the table itself,
# the planner (whose statistics lag during a burst) chose bitmap scans over *every*
# pending row of the destination — 20,000 rows read to claim 100 — so claims slowed down
# exactly while a backlog built up. The UPDATE then matches on id and on the row version
# seen (xmin): a row changed in between (claimed by a racing task, cancelled) is skipped,
# which is what a status re-check did, without offering the planner an index to misuse.
CLAIM = _sql(
    """
    WITH task AS MATERIALIZED (
        SELECT id, xmin AS version, destination_id, status, next_attempt_at FROM deliveries
        WHERE id = ANY(CAST(:ids AS bigint[]))
    ), candidates AS (
        SELECT id, version FROM task
        WHERE destination_id = :destination_id AND status = 'pending'
          AND next_attempt_at <= now() + interval '1 second'
    ), claimed AS (
        UPDATE deliveries d
        SET status = 'delivering', attempt_count = attempt_count + 1,
            lease_expires_at = now() + make_interval(secs => :lease), updated_at = now()
        FROM candidates c
        WHERE d.id = c.id AND d.xmin = c.version
        RETURNING d.id, d.event_id, d.attempt_count
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

# Worker: one statement records a batch. A row is written only while the delivery is
# still ours (delivering, same attempt): a retried commit, or a record arriving after the
# lease expired and the scheduler took the row back, changes nothing.
RECORD_ATTEMPTS = _sql(
    """
    WITH v AS (
        SELECT * FROM unnest(
            CAST(:delivery_ids AS bigint[]), CAST(:attempt_numbers AS int[]),
            CAST(:started_at AS timestamptz[]), CAST(:durations AS int[]),
            CAST(:outcomes AS text[]), CAST(:statuses AS int[]), CAST(:errors AS text[]),
            CAST(:bodies AS text[]), CAST(:states AS text[]), CAST(:next_at AS timestamptz[]),
            CAST(:last_errors AS text[]))
        AS v(id, attempt, started_at, duration, outcome, http_status, error, body, state,
             next_at, last_error)
    ), updated AS (
        UPDATE deliveries d
        SET status = v.state,
            next_attempt_at = COALESCE(v.next_at, d.next_attempt_at),
            dispatched_at = NULL, lease_expires_at = NULL, last_error = v.last_error,
            updated_at = now()
        FROM v
        WHERE d.id = v.id AND d.status = 'delivering' AND d.attempt_count = v.attempt
        RETURNING d.id
    )
    INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, duration_ms,
                                   outcome, http_status, error, response_body)
    SELECT v.id, v.attempt, v.started_at, v.duration, v.outcome, v.http_status, v.error, v.body
    FROM v JOIN updated u ON u.id = v.id
    RETURNING delivery_id
    """
)

# Worker: claimed rows the task did not get to (time box or shutdown) go back to pending
# as if never claimed, for the scheduler to dispatch again at once.
RELEASE_UNSENT = _sql(
    """
    UPDATE deliveries d
    SET status = 'pending', attempt_count = d.attempt_count - 1, dispatched_at = NULL,
        lease_expires_at = NULL, updated_at = now()
    FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS int[])) AS v(id, attempt)
    WHERE d.id = v.id AND d.status = 'delivering' AND d.attempt_count = v.attempt
    """
)

# Worker: deliveries held back by eventrouter's own rate limit. Not an attempt: the
# attempt_count the claim added is given back and no attempt row is written.
DEFER_DELIVERIES = _sql(
    """
    UPDATE deliveries d
    SET status = 'pending', attempt_count = d.attempt_count - 1,
        next_attempt_at = now() + make_interval(secs => v.after), last_error = v.reason,
        dispatched_at = NULL, lease_expires_at = NULL, updated_at = now()
    FROM unnest(CAST(:ids AS bigint[]), CAST(:attempts AS int[]),
                CAST(:after AS double precision[]), CAST(:reasons AS text[]))
         AS v(id, attempt, after, reason)
    WHERE d.id = v.id AND d.status = 'delivering' AND d.attempt_count = v.attempt
    """
)

# Worker: a task for a slow destination that found no free slot hands its rows back to
# the scheduler, due again after :delay seconds, instead of queueing behind the slot.
DEFER_TASK = _sql(  # same shape as CLAIM, for the same reason: primary key only
    """
    WITH task AS MATERIALIZED (
        SELECT id, xmin AS version, destination_id, status FROM deliveries
        WHERE id = ANY(CAST(:ids AS bigint[]))
    )
    UPDATE deliveries d
    SET dispatched_at = NULL,
        next_attempt_at = GREATEST(d.next_attempt_at, now() + make_interval(secs => :delay)),
        updated_at = now()
    FROM task
    WHERE d.id = task.id AND d.xmin = task.version
      AND task.destination_id = :destination_id AND task.status = 'pending'
    """
)

# One of N slots serving a slow destination; a transaction-level advisory lock, so a
# worker that dies or a transaction that ends frees it.
TRY_DESTINATION_SLOT = _sql("SELECT pg_try_advisory_xact_lock(:slot, :destination_id)")

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


# -- configuration (router.admin) ------------------------------------------------------

INSERT_CHANNEL = _sql(
    """
    INSERT INTO channels (org, env, name, pattern, description)
    VALUES (:org, :env, :name, :pattern, :description)
    ON CONFLICT (org, name) DO NOTHING
    RETURNING id
    """
)
LIST_CHANNELS = _sql(
    """
    SELECT c.id, c.name, c.pattern, c.env, c.description, c.is_system, c.created_at,
           COALESCE(array_agg(s.name ORDER BY s.name) FILTER (WHERE s.name IS NOT NULL), '{}')
               AS subscriptions
    FROM channels c
    LEFT JOIN subscription_channels sc ON sc.channel_id = c.id
    LEFT JOIN subscriptions s ON s.id = sc.subscription_id
    WHERE c.org = :org OR c.is_system
    GROUP BY c.id
    ORDER BY c.is_system DESC, c.name
    """
)
FIND_CHANNELS = _sql(
    """
    SELECT id, name, is_system FROM channels
    WHERE name = ANY(CAST(:names AS text[])) AND (org = :org OR is_system)
    """
)
CHANNEL_USERS = _sql(
    """
    SELECT s.name FROM subscription_channels sc JOIN subscriptions s ON s.id = sc.subscription_id
    WHERE sc.channel_id = :id ORDER BY s.name
    """
)
DELETE_CHANNEL = _sql("DELETE FROM channels WHERE id = :id")

INSERT_DESTINATION = _sql(
    """
    INSERT INTO destinations (org, name, kind, config, retry_schedule)
    VALUES (:org, :name, :kind, CAST(:config AS jsonb), :retry_schedule)
    ON CONFLICT (org, name) DO NOTHING
    RETURNING id
    """
)
LIST_DESTINATIONS = _sql(
    """
    SELECT id, name, kind, config, enabled, retry_schedule, disabled_reason, created_at
    FROM destinations WHERE org = :org ORDER BY name
    """
)
FIND_DESTINATIONS = _sql(
    """
    SELECT id, name, enabled FROM destinations
    WHERE name = ANY(CAST(:names AS text[])) AND org = :org
    """
)
SET_DESTINATION_ENABLED = _sql(
    """
    UPDATE destinations
    SET enabled = :enabled, updated_at = now(),
        disabled_reason = CASE WHEN :enabled THEN NULL ELSE :reason END
    WHERE org = :org AND name = :name
    RETURNING id
    """
)
DELETE_DESTINATION = _sql("DELETE FROM destinations WHERE id = :id")
LOCK_DESTINATION = _sql(
    """
    SELECT id, kind, config FROM destinations WHERE org = :org AND name = :name FOR UPDATE
    """
)
ALL_DESTINATION_CONFIGS = _sql("SELECT id, kind, config FROM destinations ORDER BY id FOR UPDATE")
UPDATE_DESTINATION_CONFIG = _sql(
    """
    UPDATE destinations SET config = CAST(:config AS jsonb), updated_at = now() WHERE id = :id
    """
)

# `destinations test`: an event and a delivery made by hand, marked dispatched so no router
# sends it too while the CLI delivers it in-process.
INSERT_TEST_EVENT = _sql(
    """
    INSERT INTO events (id, name, org, env, payload, published_at)
    VALUES (:id, :name, :org, :env, CAST(:payload AS jsonb), now())
    """
)
INSERT_TEST_DELIVERY = _sql(
    """
    INSERT INTO deliveries (event_id, destination_id, dispatched_at)
    VALUES (:event_id, :destination_id, now())
    RETURNING id
    """
)
TEST_RESULT = _sql(
    """
    SELECT d.status, d.next_attempt_at, a.outcome, a.http_status, a.error, a.response_body,
           a.duration_ms
    FROM deliveries d
    LEFT JOIN LATERAL (
        SELECT * FROM delivery_attempts WHERE delivery_id = d.id
        ORDER BY attempt_number DESC, id DESC LIMIT 1
    ) a ON true
    WHERE d.id = :id
    """
)

INSERT_SUBSCRIPTION = _sql(
    """
    INSERT INTO subscriptions (org, name, env) VALUES (:org, :name, :env)
    ON CONFLICT (org, name) DO NOTHING
    RETURNING id
    """
)
LINK_CHANNELS = _sql(
    """
    INSERT INTO subscription_channels (subscription_id, channel_id)
    SELECT :id, unnest(CAST(:channel_ids AS int[]))
    """
)
LINK_DESTINATIONS = _sql(
    """
    INSERT INTO subscription_destinations (subscription_id, destination_id)
    SELECT :id, unnest(CAST(:destination_ids AS int[]))
    """
)
LIST_SUBSCRIPTIONS = _sql(
    """
    SELECT s.id, s.name, s.env, s.enabled, s.created_at,
           COALESCE((SELECT array_agg(c.name ORDER BY c.name) FROM subscription_channels sc
                     JOIN channels c ON c.id = sc.channel_id
                     WHERE sc.subscription_id = s.id), '{}') AS channels,
           COALESCE((SELECT array_agg(d.name ORDER BY d.name) FROM subscription_destinations sd
                     JOIN destinations d ON d.id = sd.destination_id
                     WHERE sd.subscription_id = s.id), '{}') AS destinations
    FROM subscriptions s WHERE s.org = :org ORDER BY s.name
    """
)
SET_SUBSCRIPTION_ENABLED = _sql(
    """
    UPDATE subscriptions SET enabled = :enabled, updated_at = now()
    WHERE org = :org AND name = :name RETURNING id
    """
)
DELETE_SUBSCRIPTION = _sql(
    "DELETE FROM subscriptions WHERE org = :org AND name = :name RETURNING id"
)

# -- inspection and retry ----------------------------------------------------------------

HISTORY = _sql(
    """
    SELECT event_id, name, env, received_at, total, succeeded, pending, failed, cancelled,
           duplicate_of
    FROM event_delivery_summary
    WHERE org = :org
      AND (CAST(:name_re AS text) IS NULL OR name ~ CAST(:name_re AS text))
      AND (CAST(:env AS text) IS NULL OR env = CAST(:env AS text))
    ORDER BY received_at DESC, event_id DESC
    LIMIT :limit
    """
)
SHOW_EVENT = _sql(
    """
    SELECT id, name, org, env, payload, idempotency_key, duplicate_of, published_at, received_at
    FROM events WHERE id = :id AND org = :org
    """
)
SHOW_DELIVERIES = _sql(
    """
    SELECT d.id, d.status, d.attempt_count, d.next_attempt_at, d.last_error, d.created_at,
           d.updated_at, dest.name AS destination, dest.kind, s.name AS subscription
    FROM deliveries d
    LEFT JOIN destinations dest ON dest.id = d.destination_id
    LEFT JOIN subscriptions s ON s.id = d.subscription_id
    WHERE d.event_id = :id ORDER BY d.id
    """
)
SHOW_ATTEMPTS = _sql(
    """
    SELECT a.delivery_id, a.attempt_number, a.started_at, a.duration_ms, a.outcome,
           a.http_status, a.error, a.response_body
    FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
    WHERE d.event_id = :id ORDER BY a.delivery_id, a.attempt_number, a.id
    """
)
LIST_DELIVERIES = _sql(
    """
    SELECT d.id, d.event_id, e.name AS event, e.env, dest.name AS destination, d.status,
           d.attempt_count, d.next_attempt_at, d.last_error, d.updated_at
    FROM deliveries d
    JOIN events e ON e.id = d.event_id
    LEFT JOIN destinations dest ON dest.id = d.destination_id
    WHERE e.org = :org
      AND (CAST(:status AS text) IS NULL OR d.status = CAST(:status AS text))
      AND (CAST(:destination_id AS int) IS NULL
           OR d.destination_id = CAST(:destination_id AS int))
    ORDER BY d.id DESC
    LIMIT :limit
    """
)
RETRY_BY_ID = _sql(
    """
    UPDATE deliveries d
    SET status = 'pending', next_attempt_at = now(), dispatched_at = NULL,
        lease_expires_at = NULL, updated_at = now()
    FROM events e
    WHERE e.id = d.event_id AND e.org = :org AND d.id = ANY(CAST(:ids AS bigint[]))
      AND d.status IN ('failed', 'cancelled') AND d.destination_id IS NOT NULL
    RETURNING d.id
    """
)
RETRY_FAILED = _sql(
    """
    UPDATE deliveries d
    SET status = 'pending', next_attempt_at = now(), dispatched_at = NULL,
        lease_expires_at = NULL, updated_at = now()
    FROM events e
    WHERE e.id = d.event_id AND e.org = :org
      AND d.status IN ('failed', 'cancelled') AND d.destination_id IS NOT NULL
      AND (CAST(:destination_id AS int) IS NULL
           OR d.destination_id = CAST(:destination_id AS int))
      AND (CAST(:since AS double precision) IS NULL
           OR d.updated_at >= now() - make_interval(secs => CAST(:since AS double precision)))
    RETURNING d.id
    """
)
DELIVERY_STATES = _sql(
    """
    SELECT d.id, d.status FROM deliveries d JOIN events e ON e.id = d.event_id
    WHERE e.org = :org AND d.id = ANY(CAST(:ids AS bigint[]))
    """
)


# -- protection (router.service / router.scheduler) --------------------------------------

# The outbox of system events; each row is taken by exactly one router (SKIP LOCKED) and
# turned into an event in the same transaction that deletes it.
TAKE_SYSTEM_EVENTS = _sql(
    """
    DELETE FROM system_events
    WHERE id IN (SELECT id FROM system_events ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED)
    RETURNING id, org, env, name, payload, created_at
    """
)

# Enabled destinations that have failed every attempt for the whole window: no success in
# it, at least :min_attempts failures in it, and failing since before it began.
DESTINATIONS_FAILING_FOR_WINDOW = _sql(
    """
    SELECT d.destination_id AS id, count(*) AS attempts
    FROM delivery_attempts a
    JOIN deliveries d ON d.id = a.delivery_id
    JOIN destinations dest ON dest.id = d.destination_id AND dest.enabled
    WHERE a.started_at > now() - make_interval(secs => :window)
    GROUP BY d.destination_id
    HAVING count(*) >= :min_attempts
       AND bool_and(a.outcome <> 'succeeded')
       AND min(a.started_at) < now() - make_interval(secs => :window * 0.9)
    """
)
