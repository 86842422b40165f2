"""Where a destination's secrets came from: ``destinations.secret_refs``.

``eventrouter apply`` takes secrets by reference (``${env:NAME}``, ``{secret_file: path}``)
and ``export`` must write the same references back, never the values. The column maps a
dotted config path (``headers.Authorization``) to the reference it was read from; it is
empty for destinations made by ``destinations add``. Added with a constant default, so the
table is not rewritten.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE destinations ADD COLUMN secret_refs jsonb NOT NULL DEFAULT '{}'")


def downgrade() -> None:
    op.execute("ALTER TABLE destinations DROP COLUMN IF EXISTS secret_refs")
