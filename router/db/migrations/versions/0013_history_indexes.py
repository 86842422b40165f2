"""Indexes the delivery log and an event's deliveries are read by.

Since migration 0006 the only index leading with ``deliveries.event_id`` is partial
(``WHERE digest_id IS NULL``, the conflict target of ingest), so a query naming an
event's deliveries without that predicate (the history's counts, ``show``, ``retry
EVENT``) read every delivery: 45 s for a page of the history at 2.5 million
deliveries. The delivery log is ordered by ``(updated_at, id)``, newest first, with or
without a destination; only ``(status, updated_at)`` served it, so its first page sorted
every delivery. Created on the partitioned parent, each index reaches every week's
partition, present and future.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03
"""

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE INDEX deliveries_event_id ON deliveries (event_id);
CREATE INDEX deliveries_updated_at ON deliveries (updated_at, id);
CREATE INDEX deliveries_destination_updated_at ON deliveries (destination_id, updated_at, id);
"""
DOWNGRADE = """
DROP INDEX deliveries_destination_updated_at;
DROP INDEX deliveries_updated_at;
DROP INDEX deliveries_event_id;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
