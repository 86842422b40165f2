"""Test notifications are marked: ``events.is_test``.

``destinations test`` sends a real request, recorded like any other, but it is a probe,
not an event: a failing test must not emit ``delivery:failed`` (and page the admins),
``retry --failed`` must not resend it, and history leaves it out by default. The column is
added without rewriting the table (a constant default); the trigger that writes
``delivery:failed`` now skips test events as it skips system events.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TRIGGER = """
CREATE OR REPLACE FUNCTION eventrouter_delivery_failed() RETURNS trigger AS $$
DECLARE
    ev events%ROWTYPE;
    dest_name text;
BEGIN
    SELECT * INTO ev FROM events WHERE id = NEW.event_id;
    IF ev.name IN ('delivery:failed', 'destination:disabled') {test_clause} THEN
        RETURN NULL;  -- no system event about a system event (no loops){test_comment}
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
"""

UPGRADE = "ALTER TABLE events ADD COLUMN is_test boolean NOT NULL DEFAULT false;\n" + (
    _TRIGGER.format(test_clause="OR ev.is_test", test_comment=", nor about a test")
)

DOWNGRADE = _TRIGGER.format(test_clause="", test_comment="") + (
    "ALTER TABLE events DROP COLUMN IF EXISTS is_test;\n"
)


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
