"""System events: built-in read-only channels and an outbox the routers drain.

``delivery:failed`` (a delivery gave up) and ``destination:disabled`` are written to
``system_events`` by triggers, in the same transaction as the change that caused them,
so none is lost and none is invented. Routers turn them into ordinary events. A
failed delivery *of* a system event emits nothing, so a broken admin channel cannot
loop.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE system_events (
    id         bigserial PRIMARY KEY,
    org        text NOT NULL,
    env        text,
    name       text NOT NULL,
    payload    jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO channels (org, name, pattern, description, is_system) VALUES
    ('*', 'delivery:failed', 'delivery:failed',
     'a delivery gave up (permanent error or attempts exhausted)', true),
    ('*', 'destination:disabled', 'destination:disabled',
     'a destination was disabled (by an operator, or automatically)', true);

CREATE FUNCTION eventrouter_delivery_failed() RETURNS trigger AS $$
DECLARE
    ev events%ROWTYPE;
    dest_name text;
BEGIN
    SELECT * INTO ev FROM events WHERE id = NEW.event_id;
    IF ev.name IN ('delivery:failed', 'destination:disabled') THEN
        RETURN NULL;  -- no system event about a system event: no loops
    END IF;
    SELECT name INTO dest_name FROM destinations WHERE id = NEW.destination_id;
    INSERT INTO system_events (org, env, name, payload) VALUES (
        ev.org, ev.env, 'delivery:failed',
        jsonb_build_object(
            'delivery_id', NEW.id, 'event_id', ev.id, 'event_name', ev.name,
            'destination', dest_name, 'attempts', NEW.attempt_count,
            'error', NEW.last_error));
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER deliveries_failed AFTER UPDATE OF status ON deliveries
    FOR EACH ROW WHEN (NEW.status = 'failed' AND OLD.status IS DISTINCT FROM 'failed')
    EXECUTE FUNCTION eventrouter_delivery_failed();

CREATE FUNCTION eventrouter_destination_disabled() RETURNS trigger AS $$
BEGIN
    INSERT INTO system_events (org, env, name, payload) VALUES (
        NEW.org, NULL, 'destination:disabled',
        jsonb_build_object('destination', NEW.name, 'kind', NEW.kind,
                           'reason', NEW.disabled_reason));
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER destinations_disabled AFTER UPDATE OF enabled ON destinations
    FOR EACH ROW WHEN (OLD.enabled AND NOT NEW.enabled)
    EXECUTE FUNCTION eventrouter_destination_disabled();
"""

DOWNGRADE = """
DROP TRIGGER IF EXISTS destinations_disabled ON destinations;
DROP TRIGGER IF EXISTS deliveries_failed ON deliveries;
DROP FUNCTION IF EXISTS eventrouter_destination_disabled();
DROP FUNCTION IF EXISTS eventrouter_delivery_failed();
DELETE FROM channels WHERE is_system AND org = '*';
DROP TABLE IF EXISTS system_events;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
