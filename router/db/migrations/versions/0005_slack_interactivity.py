"""Slack interactivity: approvals, acknowledgements, every click, and message updates.

- ``delivery_attempts.receipt``: the provider's reference to what an attempt made (for
  Slack's Web API ``"<channel> <ts>"``), so a decision can update the messages that asked.
- ``approvals``: one row per approval request, written by the router with the event; the
  first decision wins (``decision IS NULL`` in the UPDATE), so double clicks, clicks on
  two API processes and a racing timeout make exactly one.
- ``acknowledgements``: the first acknowledgement of an event (primary key: one per event).
- ``slack_clicks``: every click and command, refused ones included: who, when, which
  message, and what came of it.
- ``slack_message_updates``: messages to update after a decision (``chat.update`` and a
  thread reply), written in the decision's transaction and worked off by the routers, so
  a kill between deciding and updating Slack loses nothing.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE delivery_attempts ADD COLUMN receipt text;

CREATE TABLE approvals (
    request_event_id uuid PRIMARY KEY REFERENCES events ON DELETE CASCADE,
    org              text NOT NULL,
    env              text,
    request_name     text NOT NULL,
    prompt           text NOT NULL,
    approvers        text[],
    on_timeout       text NOT NULL CHECK (on_timeout IN ('approved', 'rejected')),
    expires_at       timestamptz NOT NULL,
    decision         text CHECK (decision IN ('approved', 'rejected', 'expired')),
    decided_by_id    text,
    decided_by_name  text,
    decided_at       timestamptz,
    message_channel  text,
    message_ts       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK ((decision IS NULL) = (decided_at IS NULL))
);
CREATE INDEX approvals_open_by_expiry ON approvals (expires_at) WHERE decision IS NULL;

CREATE TABLE acknowledgements (
    event_id      uuid PRIMARY KEY REFERENCES events ON DELETE CASCADE,
    org           text NOT NULL,
    acked_by_id   text NOT NULL,
    acked_by_name text NOT NULL,
    acked_at      timestamptz NOT NULL DEFAULT now(),
    via           text NOT NULL CHECK (via IN ('button', 'command'))
);

CREATE TABLE slack_clicks (
    id          bigserial PRIMARY KEY,
    org         text NOT NULL,
    event_id    uuid NOT NULL REFERENCES events ON DELETE CASCADE,
    action      text NOT NULL,
    user_id     text NOT NULL,
    user_name   text NOT NULL,
    result      text NOT NULL,
    channel     text,
    message_ts  text,
    clicked_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX slack_clicks_event ON slack_clicks (event_id);

CREATE TABLE slack_message_updates (
    id             bigserial PRIMARY KEY,
    event_id       uuid NOT NULL REFERENCES events ON DELETE CASCADE,
    destination_id integer NOT NULL REFERENCES destinations ON DELETE CASCADE,
    receipt        text NOT NULL,
    reply          text NOT NULL,
    replied        boolean NOT NULL DEFAULT false,
    attempts       integer NOT NULL DEFAULT 0,
    due_at         timestamptz NOT NULL DEFAULT now(),
    last_error     text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX slack_message_updates_due ON slack_message_updates (due_at);
"""

DOWNGRADE = """
DROP TABLE IF EXISTS slack_message_updates;
DROP TABLE IF EXISTS slack_clicks;
DROP TABLE IF EXISTS acknowledgements;
DROP TABLE IF EXISTS approvals;
ALTER TABLE delivery_attempts DROP COLUMN IF EXISTS receipt;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
