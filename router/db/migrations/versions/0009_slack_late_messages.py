"""A Slack message posted after its event was decided is updated too.

When Slack was down until an approval request expired (or someone acknowledged the event
by slash command before its message went out), the message is posted later still showing
its buttons. A decision queues updates only for the messages already posted; this trigger
queues one for a message whose post is recorded after the decision (its attempt's
``receipt``), so every message ends up showing the decision.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE FUNCTION eventrouter_message_posted() RETURNS trigger AS $$
DECLARE
    d deliveries%ROWTYPE;
BEGIN
    SELECT * INTO d FROM deliveries WHERE id = NEW.delivery_id;
    IF d.destination_id IS NOT NULL AND (
        EXISTS (SELECT 1 FROM approvals
                WHERE request_event_id = d.event_id AND decision IS NOT NULL)
        OR EXISTS (SELECT 1 FROM acknowledgements WHERE event_id = d.event_id)) THEN
        INSERT INTO slack_message_updates (event_id, destination_id, receipt, reply)
        VALUES (d.event_id, d.destination_id, NEW.receipt, '');
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

-- Only attempts that posted a message carry a receipt: every other insert skips the call.
CREATE TRIGGER delivery_attempts_message_posted AFTER INSERT ON delivery_attempts
    FOR EACH ROW WHEN (NEW.receipt IS NOT NULL)
    EXECUTE FUNCTION eventrouter_message_posted();
"""

DOWNGRADE = """
DROP TRIGGER IF EXISTS delivery_attempts_message_posted ON delivery_attempts;
DROP FUNCTION IF EXISTS eventrouter_message_posted();
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
