"""Events by (org, name, received_at, id): the order of a history page with a name filter.

``history --name`` matches a pattern against the org's names, then reads each matching
name's newest events, at most a page each. ``(name, received_at DESC)`` gave them in time
order but not in the page's full order (``received_at DESC, id DESC``) nor per org, so the
planner preferred scanning every event in time order and filtering by name: bounded for a
common name, every event of the table for a rare one. This index gives each name's page
in its exact order and serves the org's distinct names (``event_names``) too; it replaces
``events_name_received_at``, so ingest maintains as many indexes as before. Created on the
partitioned parent, it reaches every week's partition, present and future.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE INDEX events_org_name_received_at ON events (org, name, received_at DESC, id DESC);
DROP INDEX events_name_received_at;
"""
DOWNGRADE = """
CREATE INDEX events_name_received_at ON events (name, received_at DESC);
DROP INDEX events_org_name_received_at;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
