"""The control plane's statements: configuration, inspection and retry.

The pipeline's statements live with the module that runs them: ``ingest`` (the router's
store), ``routing`` (the routing table), ``schedule`` (the scheduler), ``claims`` (the
worker) and ``destination_state`` (disable, cancel: shared with the control plane).
``CAST(:x AS type[])`` is used instead of ``::`` so SQLAlchemy's bind-parameter parsing
stays unambiguous.
"""

from __future__ import annotations

from sqlalchemy import TextClause, text

from eventrouter.router.db import destination_state


def _sql(statement: str) -> TextClause:
    return text(statement)


# Until the control plane calls destination_state.cancel_open_deliveries() itself.
CANCEL_OPEN_DELIVERIES = destination_state.CANCEL_OPEN_DELIVERIES


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
