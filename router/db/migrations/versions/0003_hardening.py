"""Hardening: a restart point for auto-disable, and claim tokens.

- ``destinations.enabled_since``: when the destination was created or last went from
  disabled to enabled. Auto-disable counts only attempts after it, so enabling an
  auto-disabled destination gives it a whole new window. A trigger sets it, so every
  path that enables a destination (the CLI, plain SQL) does.
- ``deliveries.claim_token``: chosen by the worker for each claim; the worker's later
  writes to the claimed rows (record, hand back, defer) match on it. A write repeated
  after a lost commit acknowledgement can then never touch another worker's claim, and
  a repeated claim finds the rows it already took.

Both columns are added without rewriting a table. Existing destinations start their
window at their last update (an enable updated it), never earlier.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE destinations ADD COLUMN enabled_since timestamptz;
UPDATE destinations SET enabled_since = updated_at;
ALTER TABLE destinations
    ALTER COLUMN enabled_since SET DEFAULT now(),
    ALTER COLUMN enabled_since SET NOT NULL;

CREATE FUNCTION eventrouter_destination_enabled() RETURNS trigger AS $$
BEGIN
    NEW.enabled_since := now();
    RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER destinations_enabled_since BEFORE UPDATE OF enabled ON destinations
    FOR EACH ROW WHEN (NEW.enabled AND NOT OLD.enabled)
    EXECUTE FUNCTION eventrouter_destination_enabled();

ALTER TABLE deliveries ADD COLUMN claim_token uuid;
"""

DOWNGRADE = """
ALTER TABLE deliveries DROP COLUMN IF EXISTS claim_token;
DROP TRIGGER IF EXISTS destinations_enabled_since ON destinations;
DROP FUNCTION IF EXISTS eventrouter_destination_enabled();
ALTER TABLE destinations DROP COLUMN IF EXISTS enabled_since;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
