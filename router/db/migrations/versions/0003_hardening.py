"""Hardening: claim tokens.

- ``deliveries.claim_token``: chosen by the worker for each claim; the worker's later
  writes to the claimed rows (record, hand back, defer) match on it. A write repeated
  after a lost commit acknowledgement can then never touch another worker's claim, and
  a repeated claim finds the rows it already took.

Added without rewriting the table.

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
ALTER TABLE deliveries ADD COLUMN claim_token uuid;
"""

DOWNGRADE = """
ALTER TABLE deliveries DROP COLUMN IF EXISTS claim_token;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
