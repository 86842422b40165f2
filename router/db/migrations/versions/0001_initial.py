"""Initial schema: config tables, events, deliveries, attempts, summary view.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE channels (
    id          serial PRIMARY KEY,
    org         text NOT NULL,
    env         text,
    name        text NOT NULL,
    pattern     text NOT NULL,
    description text NOT NULL DEFAULT '',
    is_system   boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org, name)
);

CREATE TABLE destinations (
    id              serial PRIMARY KEY,
    org             text NOT NULL,
    name            text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('webhook', 'slack', 'pagerduty', 'email')),
    config          jsonb NOT NULL,
    enabled         boolean NOT NULL DEFAULT true,
    retry_schedule  text,
    disabled_reason text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org, name)
);

CREATE TABLE subscriptions (
    id         serial PRIMARY KEY,
    org        text NOT NULL,
    name       text NOT NULL,
    env        text,
    enabled    boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org, name)
);

CREATE TABLE subscription_channels (
    subscription_id integer NOT NULL REFERENCES subscriptions ON DELETE CASCADE,
    channel_id      integer NOT NULL REFERENCES channels ON DELETE CASCADE,
    PRIMARY KEY (subscription_id, channel_id)
);

CREATE TABLE subscription_destinations (
    subscription_id integer NOT NULL REFERENCES subscriptions ON DELETE CASCADE,
    destination_id  integer NOT NULL REFERENCES destinations ON DELETE CASCADE,
    PRIMARY KEY (subscription_id, destination_id)
);

CREATE TABLE events (
    id              uuid PRIMARY KEY,
    name            text NOT NULL,
    org             text NOT NULL,
    env             text,
    payload         jsonb NOT NULL,
    idempotency_key text,
    duplicate_of    uuid,
    published_at    timestamptz,
    received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_received_at ON events (received_at DESC);
CREATE INDEX events_name_received_at ON events (name, received_at DESC);
CREATE UNIQUE INDEX events_idempotency_key ON events (org, idempotency_key)
    WHERE idempotency_key IS NOT NULL AND duplicate_of IS NULL;

CREATE TABLE deliveries (
    id               bigserial PRIMARY KEY,
    event_id         uuid NOT NULL REFERENCES events ON DELETE CASCADE,
    destination_id   integer REFERENCES destinations ON DELETE SET NULL,
    subscription_id  integer REFERENCES subscriptions ON DELETE SET NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN
                            ('pending', 'delivering', 'succeeded', 'failed', 'cancelled')),
    attempt_count    integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    dispatched_at    timestamptz,
    lease_expires_at timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (event_id, destination_id)
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_leased ON deliveries (lease_expires_at) WHERE status = 'delivering';
CREATE INDEX deliveries_destination_status ON deliveries (destination_id, status);
CREATE INDEX deliveries_status_updated_at ON deliveries (status, updated_at);

CREATE TABLE delivery_attempts (
    id             bigserial PRIMARY KEY,
    delivery_id    bigint NOT NULL REFERENCES deliveries ON DELETE CASCADE,
    attempt_number integer NOT NULL,
    started_at     timestamptz NOT NULL,
    duration_ms    integer NOT NULL,
    outcome        text NOT NULL CHECK (outcome IN ('succeeded', 'retry', 'failed')),
    http_status    integer,
    error          text,
    response_body  text
);
CREATE INDEX delivery_attempts_delivery_id ON delivery_attempts (delivery_id);
CREATE INDEX delivery_attempts_started_at ON delivery_attempts (started_at);

CREATE TABLE rejected_events (
    id          bigserial PRIMARY KEY,
    stream_id   text NOT NULL,
    reason      text NOT NULL,
    raw         text,
    received_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE config_version (
    id      integer PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
);
INSERT INTO config_version VALUES (1, 0);

CREATE FUNCTION eventrouter_bump_config_version() RETURNS trigger AS $$
BEGIN
    UPDATE config_version SET version = version + 1 WHERE id = 1;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER channels_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON channels FOR EACH STATEMENT EXECUTE FUNCTION eventrouter_bump_config_version();
CREATE TRIGGER destinations_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON destinations FOR EACH STATEMENT EXECUTE FUNCTION eventrouter_bump_config_version();
CREATE TRIGGER subscriptions_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON subscriptions FOR EACH STATEMENT EXECUTE FUNCTION eventrouter_bump_config_version();
CREATE TRIGGER subscription_channels_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON subscription_channels FOR EACH STATEMENT EXECUTE FUNCTION eventrouter_bump_config_version();
CREATE TRIGGER subscription_destinations_config_version
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON subscription_destinations
    FOR EACH STATEMENT EXECUTE FUNCTION eventrouter_bump_config_version();

CREATE VIEW event_delivery_summary AS
SELECT e.id AS event_id,
       e.name,
       e.org,
       e.env,
       e.received_at,
       count(d.id) AS total,
       count(d.id) FILTER (WHERE d.status = 'succeeded') AS succeeded,
       count(d.id) FILTER (WHERE d.status IN ('pending', 'delivering')) AS pending,
       count(d.id) FILTER (WHERE d.status = 'failed') AS failed,
       count(d.id) FILTER (WHERE d.status = 'cancelled') AS cancelled,
       e.duplicate_of
FROM events e
LEFT JOIN deliveries d ON d.event_id = e.id
GROUP BY e.id;
"""

DOWNGRADE = """
DROP VIEW IF EXISTS event_delivery_summary;
DROP TABLE IF EXISTS delivery_attempts, deliveries, events, rejected_events,
    subscription_destinations, subscription_channels, subscriptions, destinations, channels,
    config_version;
DROP FUNCTION IF EXISTS eventrouter_bump_config_version();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
