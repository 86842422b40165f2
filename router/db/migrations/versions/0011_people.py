"""People as recipients: a user's Slack contact and their notification preferences.

- ``users.slack_user`` (a Slack member id, ``U…``/``W…``, for DMs) and ``users.slack_channel``
  (a channel id, ``C…``/``G…``) beside the login email and time zone they already have.
- ``user_preferences``: one row per user, gone with the user (ON DELETE CASCADE). A user
  without a row has the defaults (everything on, immediate, no quiet hours); the API writes
  the row on first read, the router only reads. Quiet hours are three columns so that
  ``psql`` shows them plainly; they are set together or not at all.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE users ADD COLUMN slack_user text, ADD COLUMN slack_channel text;

CREATE TABLE user_preferences (
    user_id bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    email_enabled boolean NOT NULL DEFAULT true,
    slack_enabled boolean NOT NULL DEFAULT true,
    -- channel name -> on/off; a channel not named here is on
    channels jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(channels) = 'object'),
    email_address text,
    slack_target text,
    quiet_window text,
    quiet_days text,
    quiet_mode text CHECK (quiet_mode IN ('hold', 'drop')),
    digest text NOT NULL DEFAULT 'immediate',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK ((quiet_window IS NULL) = (quiet_mode IS NULL)),
    CHECK (quiet_window IS NOT NULL OR quiet_days IS NULL)
);
"""

DOWNGRADE = """
DROP TABLE IF EXISTS user_preferences;
ALTER TABLE users DROP COLUMN IF EXISTS slack_channel, DROP COLUMN IF EXISTS slack_user;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
