"""People as recipients: org-level media, subscription recipients, one delivery per user.

- ``people_settings``: per org, the email and Slack-bot destinations that carry people's
  notifications (``eventrouter people set --email-via --slack-via``). A removed
  destination leaves the medium unconfigured (SET NULL), never a dangling id.
- ``subscriptions.users`` (``all`` | ``role:admin`` | ``a@x,b@y``; NULL = no people) and
  ``subscriptions.mandatory`` (ignores people's channel opt-outs).
- ``deliveries.user_id`` / ``recipient`` (``user:<email>/<medium>``, the name shown in
  listings) / ``address`` (where the destination sends for that user). No foreign key on
  ``user_id``: removing a user must neither cascade into history nor turn several rows
  into one (SET NULL would collide in the unique index); the worker cancels the pending
  rows of a user who is gone.
- Uniqueness becomes one row per event x destination x recipient (and per digest x
  destination x recipient), in every week's partition and in the function that creates
  the next weeks'. Existing rows have no user (COALESCE 0), so the old guarantee holds
  for them unchanged and no row moves.
- ``decisions.recipient``: one decision per (event, subscription, recipient); the
  subscription's own decision keeps recipient NULL.
- ``digests.user_id`` / ``destination_id`` / ``address`` / ``recipient``: a person's
  quiet-hours hold or digest is released to that person alone; kind ``digest`` joins
  ``group`` and ``hold``.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# The week function of 0010 with the recipient in its unique indexes.
ENSURE_WEEK = """
CREATE OR REPLACE FUNCTION eventrouter_delivery_indexes(part text, with_user boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('DROP INDEX IF EXISTS %I', part || '_event_destination');
    EXECUTE format('DROP INDEX IF EXISTS %I', part || '_digest_destination');
    IF with_user THEN
        EXECUTE format('CREATE UNIQUE INDEX %I ON %I '
                       '(event_id, destination_id, COALESCE(user_id, 0)) '
                       'WHERE digest_id IS NULL', part || '_event_destination', part);
        EXECUTE format('CREATE UNIQUE INDEX %I ON %I '
                       '(digest_id, destination_id, COALESCE(user_id, 0)) '
                       'WHERE digest_id IS NOT NULL', part || '_digest_destination', part);
    ELSE
        EXECUTE format('CREATE UNIQUE INDEX %I ON %I (event_id, destination_id) '
                       'WHERE digest_id IS NULL', part || '_event_destination', part);
        EXECUTE format('CREATE UNIQUE INDEX %I ON %I (digest_id, destination_id) '
                       'WHERE digest_id IS NOT NULL', part || '_digest_destination', part);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION eventrouter_ensure_week(day bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    first bigint := eventrouter_week_start(day);
    suffix text := eventrouter_day_suffix(first);
    lo_at timestamptz := eventrouter_day_start(first);
    hi_at timestamptz := eventrouter_day_start(first + 7);
    lo bigint := first << 40;
    hi bigint := (first + 7) << 40;
    strays boolean;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('eventrouter_partitions'));
    IF to_regclass('events_' || suffix) IS NOT NULL THEN
        RETURN false;
    END IF;
    strays := EXISTS (SELECT 1 FROM events_default
                      WHERE published_at >= lo_at AND published_at < hi_at)
           OR EXISTS (SELECT 1 FROM deliveries_default WHERE id >= lo AND id < hi)
           OR EXISTS (SELECT 1 FROM delivery_attempts_default
                      WHERE delivery_id >= lo AND delivery_id < hi);
    IF strays THEN
        CREATE TEMP TABLE eventrouter_moving_events ON COMMIT DROP AS
            WITH m AS (DELETE FROM events_default
                       WHERE published_at >= lo_at AND published_at < hi_at
                       RETURNING *) SELECT * FROM m;
        CREATE TEMP TABLE eventrouter_moving_deliveries ON COMMIT DROP AS
            WITH m AS (DELETE FROM deliveries_default WHERE id >= lo AND id < hi
                       RETURNING *) SELECT * FROM m;
        CREATE TEMP TABLE eventrouter_moving_attempts ON COMMIT DROP AS
            WITH m AS (DELETE FROM delivery_attempts_default
                       WHERE delivery_id >= lo AND delivery_id < hi RETURNING *)
            SELECT * FROM m;
    END IF;
    EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
                   'events_' || suffix, lo_at, hi_at);
    EXECUTE format('CREATE UNIQUE INDEX %I ON %I (org, idempotency_key) '
                   'WHERE idempotency_key IS NOT NULL AND duplicate_of IS NULL',
                   'events_' || suffix || '_idempotency_key', 'events_' || suffix);
    EXECUTE format('CREATE TABLE %I PARTITION OF deliveries FOR VALUES FROM (%s) TO (%s)',
                   'deliveries_' || suffix, lo, hi);
    PERFORM eventrouter_delivery_indexes('deliveries_' || suffix, WITH_USER);
    EXECUTE format('CREATE TABLE %I PARTITION OF delivery_attempts FOR VALUES FROM (%s) TO (%s)',
                   'delivery_attempts_' || suffix, lo, hi);
    IF strays THEN
        INSERT INTO events SELECT * FROM eventrouter_moving_events;
        INSERT INTO deliveries SELECT * FROM eventrouter_moving_deliveries;
        INSERT INTO delivery_attempts SELECT * FROM eventrouter_moving_attempts;
        DROP TABLE eventrouter_moving_events, eventrouter_moving_deliveries,
                   eventrouter_moving_attempts;
    END IF;
    RETURN true;
END
$$;

-- Every existing partition (the default one included) gets the indexes of that shape.
SELECT eventrouter_delivery_indexes(c.relname, WITH_USER)
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'deliveries'::regclass;
"""

UPGRADE = """
CREATE TABLE people_settings (
    org        text PRIMARY KEY,
    email_via  integer REFERENCES destinations ON DELETE SET NULL,
    slack_via  integer REFERENCES destinations ON DELETE SET NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE subscriptions ADD COLUMN users text;
ALTER TABLE subscriptions ADD COLUMN mandatory boolean NOT NULL DEFAULT false;

ALTER TABLE deliveries ADD COLUMN user_id bigint;
ALTER TABLE deliveries ADD COLUMN recipient text;
ALTER TABLE deliveries ADD COLUMN address text;

ALTER TABLE digests ADD COLUMN user_id bigint;
ALTER TABLE digests ADD COLUMN destination_id integer REFERENCES destinations ON DELETE CASCADE;
ALTER TABLE digests ADD COLUMN recipient text;
ALTER TABLE digests ADD COLUMN address text;
ALTER TABLE digests DROP CONSTRAINT digests_kind_check;
ALTER TABLE digests ADD CONSTRAINT digests_kind_check
    CHECK (kind IN ('group', 'hold', 'digest'));

ALTER TABLE decisions ADD COLUMN recipient text;
ALTER TABLE decisions DROP CONSTRAINT decisions_pkey;
CREATE UNIQUE INDEX decisions_event_subscription_recipient
    ON decisions (event_id, subscription_id, COALESCE(recipient, ''));
ALTER TABLE decisions DROP CONSTRAINT decisions_decision_check;
ALTER TABLE decisions ADD CONSTRAINT decisions_decision_check CHECK (decision IN (
    'delivered', 'filtered', 'unchanged', 'grouped', 'throttled', 'held', 'dropped',
    'silenced', 'filter_error', 'opted_out', 'medium_off', 'unreachable', 'digested'));
""" + ENSURE_WEEK.replace("WITH_USER", "true")

# Back to one row per (event, destination): the rows of people are removed first.
DOWNGRADE = (
    """
DELETE FROM deliveries WHERE user_id IS NOT NULL;
DELETE FROM decisions WHERE recipient IS NOT NULL;
DELETE FROM digests WHERE user_id IS NOT NULL;
"""
    + ENSURE_WEEK.replace("WITH_USER", "false")
    + """
DROP FUNCTION eventrouter_delivery_indexes(text, boolean);
ALTER TABLE decisions DROP CONSTRAINT decisions_decision_check;
ALTER TABLE decisions ADD CONSTRAINT decisions_decision_check CHECK (decision IN (
    'delivered', 'filtered', 'unchanged', 'grouped', 'throttled', 'held', 'dropped',
    'silenced', 'filter_error'));
DROP INDEX decisions_event_subscription_recipient;
ALTER TABLE decisions ADD PRIMARY KEY (event_id, subscription_id);
ALTER TABLE decisions DROP COLUMN recipient;
ALTER TABLE digests DROP CONSTRAINT digests_kind_check;
ALTER TABLE digests ADD CONSTRAINT digests_kind_check CHECK (kind IN ('group', 'hold'));
ALTER TABLE digests DROP COLUMN address, DROP COLUMN recipient, DROP COLUMN destination_id,
                    DROP COLUMN user_id;
ALTER TABLE deliveries DROP COLUMN address, DROP COLUMN recipient, DROP COLUMN user_id;
ALTER TABLE subscriptions DROP COLUMN mandatory, DROP COLUMN users;
DROP TABLE people_settings;
"""
)


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
