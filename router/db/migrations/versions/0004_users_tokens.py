"""People and API tokens: who may call the HTTP API, in which org, with which role.

- ``users``: a person in one org (email unique per org, case-insensitively), their role
  and, for notifications later, a display name and a time zone.
- ``api_tokens``: bearer tokens. Each belongs to a user (and acts with that user's current
  role, so ``users set-role`` takes effect at once) or is a service token with its own
  role. Only a SHA-256 of the token is stored: a token is 32 random bytes, so a fast hash
  is enough and nothing in the database can be replayed. ``public_id`` (the characters
  after ``er_``) finds the row; the hash is then compared in constant time.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE users (
    id bigserial PRIMARY KEY,
    org text NOT NULL,
    email text NOT NULL,
    name text NOT NULL DEFAULT '',
    role text NOT NULL CHECK (role IN ('viewer', 'developer', 'admin')),
    timezone text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_org_email ON users (org, lower(email));

CREATE TABLE api_tokens (
    id bigserial PRIMARY KEY,
    org text NOT NULL,
    public_id text NOT NULL UNIQUE,
    secret_hash bytea NOT NULL,
    name text NOT NULL DEFAULT '',
    user_id bigint REFERENCES users (id) ON DELETE CASCADE,
    service text,
    role text CHECK (role IN ('viewer', 'developer', 'admin')),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz,
    -- A token acts for a user (with the user's role) or for a service (with its own).
    CHECK ((user_id IS NOT NULL AND service IS NULL AND role IS NULL)
        OR (user_id IS NULL AND service IS NOT NULL AND role IS NOT NULL))
);
CREATE INDEX api_tokens_org ON api_tokens (org, id);
CREATE INDEX api_tokens_user ON api_tokens (user_id);
"""

DOWNGRADE = """
DROP TABLE IF EXISTS api_tokens;
DROP TABLE IF EXISTS users;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
