"""Alert rules: per-subscription rules, their state, digests, silences, decisions.

- ``subscriptions.rules`` (jsonb, NULL = deliver every matching event): the filter and
  the notify / grouping / throttling / quiet-hours settings (``router.rules.spec``).
- ``rule_state``: one row per (subscription, key) for rules that remember: on-change
  (firing, consecutive matches), the last notification (repeat interval, throttled
  count) and the open group. Routers lock it row by row, so two never both fire one
  transition.
- ``digests``: an open group (``group``) or quiet-hours hold (``hold``) collecting
  events until ``release_at``; at most one open per (subscription, kind, key). The
  scheduler releases it into one delivery per destination.
- ``deliveries.digest_id`` / ``deliveries.notice``: a delivery may carry a digest (many
  events) and what the receiver is told besides the event (firing/resolved, group,
  throttled count). The unique (event_id, destination_id) becomes partial (events'
  own deliveries) plus unique (digest_id, destination_id): a digest goes out once per
  destination, and a re-routed event still never makes a second delivery.
- ``silences``: runtime mutes (a CEL filter, optional channel, a time range or a
  recurring window, a comment).
- ``decisions``: for every stored event and every subscription whose channels matched,
  what the rules decided and why; one row each (primary key), written with the event.
  It keeps the subscription's id without a foreign key, so the record of why an event
  went nowhere outlives the subscription.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

UPGRADE = """
ALTER TABLE subscriptions ADD COLUMN rules jsonb;

CREATE TABLE rule_state (
    subscription_id integer NOT NULL REFERENCES subscriptions ON DELETE CASCADE,
    key             text NOT NULL,
    firing          boolean NOT NULL DEFAULT false,
    streak          integer NOT NULL DEFAULT 0,
    notified_at     timestamptz,
    throttled       integer NOT NULL DEFAULT 0,
    group_until     timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subscription_id, key)
);

CREATE TABLE digests (
    id              bigserial PRIMARY KEY,
    subscription_id integer NOT NULL REFERENCES subscriptions ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('group', 'hold')),
    key             text NOT NULL,
    release_at      timestamptz NOT NULL,
    first_at        timestamptz NOT NULL,
    last_at         timestamptz NOT NULL,
    count           integer NOT NULL,
    last_event_id   uuid NOT NULL,
    released_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX digests_open ON digests (subscription_id, kind, key)
    WHERE released_at IS NULL;
CREATE INDEX digests_due ON digests (release_at) WHERE released_at IS NULL;

ALTER TABLE deliveries ADD COLUMN digest_id bigint REFERENCES digests ON DELETE SET NULL;
ALTER TABLE deliveries ADD COLUMN notice jsonb;
ALTER TABLE deliveries DROP CONSTRAINT deliveries_event_id_destination_id_key;
CREATE UNIQUE INDEX deliveries_event_destination ON deliveries (event_id, destination_id)
    WHERE digest_id IS NULL;
CREATE UNIQUE INDEX deliveries_digest_destination ON deliveries (digest_id, destination_id)
    WHERE digest_id IS NOT NULL;

CREATE TABLE silences (
    id          bigserial PRIMARY KEY,
    org         text NOT NULL,
    filter      text NOT NULL,
    channel_id  integer REFERENCES channels ON DELETE CASCADE,
    starts_at   timestamptz NOT NULL DEFAULT now(),
    ends_at     timestamptz,
    every       text,
    timezone    text,
    comment     text NOT NULL,
    created_by  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expired_at  timestamptz,
    CHECK (ends_at IS NOT NULL OR every IS NOT NULL)
);
CREATE INDEX silences_org ON silences (org) WHERE expired_at IS NULL;
CREATE TRIGGER silences_config_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON silences FOR EACH STATEMENT EXECUTE FUNCTION eventrouter_bump_config_version();

CREATE TABLE decisions (
    event_id        uuid NOT NULL REFERENCES events ON DELETE CASCADE,
    subscription_id integer NOT NULL,  -- no foreign key: the record outlives a removal
    decision        text NOT NULL CHECK (decision IN (
                        'delivered', 'filtered', 'unchanged', 'grouped', 'throttled',
                        'held', 'dropped', 'silenced', 'filter_error')),
    reason          text NOT NULL DEFAULT '',
    digest_id       bigint REFERENCES digests ON DELETE SET NULL,
    silence_id      bigint REFERENCES silences ON DELETE SET NULL,
    until           timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_id, subscription_id)
);
CREATE INDEX decisions_digest ON decisions (digest_id) WHERE digest_id IS NOT NULL;
"""

DOWNGRADE = """
DROP TABLE IF EXISTS decisions;
DROP TABLE IF EXISTS silences;
DROP INDEX IF EXISTS deliveries_digest_destination;
DROP INDEX IF EXISTS deliveries_event_destination;
DELETE FROM deliveries WHERE digest_id IS NOT NULL;
ALTER TABLE deliveries DROP COLUMN IF EXISTS notice;
ALTER TABLE deliveries DROP COLUMN IF EXISTS digest_id;
ALTER TABLE deliveries ADD CONSTRAINT deliveries_event_id_destination_id_key
    UNIQUE (event_id, destination_id);
DROP TABLE IF EXISTS digests;
DROP TABLE IF EXISTS rule_state;
ALTER TABLE subscriptions DROP COLUMN IF EXISTS rules;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
