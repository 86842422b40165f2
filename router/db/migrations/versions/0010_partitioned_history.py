"""History partitioned by week: ``events``, ``deliveries`` and ``delivery_attempts``.

Retention then drops whole partitions (``eventrouter db prune``, ``EVENTROUTER_RETENTION``)
instead of a DELETE that grows with the table. One UTC week (Monday to Sunday) of
events, their deliveries and the attempts of those deliveries share one suffix, the
Monday's date (``events_p20261130``, ``deliveries_p20261130``,
``delivery_attempts_p20261130``), and are dropped together. Weeks, not days: a query
that cannot name its partition plans and probes each one, and 30 days of history are
5 weeks but 30 days.

The partition key is the event's publish time, which travels in the stream entry: never
the clock of the process storing it, so a replayed entry lands where its first copy did.

- ``events`` by range of ``published_at`` (now NOT NULL; rows without one take their
  ``received_at``); the primary key becomes ``(id, published_at)``. An id repeated with
  another publish time (an idempotency key published again: its id derives from the
  key) is recognised by the store under the key's advisory lock, before inserting.
- ``deliveries`` by range of ``id``, whose high bits are the day of its event:
  ``id = day << 40 | sequence``. Every lookup by delivery id (claims, records, retries)
  touches one partition, and all deliveries of an event share its week, so a unique
  index on ``(event_id, destination_id)`` in each partition is unique overall: a
  re-routed event never gets a second delivery.
- ``delivery_attempts`` by range of ``delivery_id``, with the same bounds.

Unique indexes on a partitioned table must contain the partition key, so the two
that do not (``(event_id, destination_id)``, the idempotency key) are created on each
partition by ``eventrouter_ensure_week``; ingest takes an advisory lock per
idempotency key so keys stay unique across weeks too. Foreign keys between the three
tables would forbid dropping one partition, so they go: the three partitions of a week
are created and dropped together instead. So do those of the tables of migrations 0005
and 0006 that name an event (approvals, acknowledgements, Slack clicks and message
updates, rule decisions): a prune deletes their rows with the week of their event.

A ``_default`` partition of each table catches what no week holds (a publish time far
off, a week not created yet); creating the week later moves those rows into it.

Existing rows are copied (nothing is lost); delivery ids are renumbered into the new
scheme (``day << 40`` plus the old id, so the old id is still the low bits) and attempts
follow their delivery. Run it with routers and workers stopped: in-flight tasks carry
old ids. Downgrade copies everything back into plain tables, ids as they are.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

FUNCTIONS = r"""
-- The UTC day (days since 1970-01-01) of a moment.
CREATE FUNCTION eventrouter_day(at timestamptz) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT floor(extract(epoch FROM at) / 86400)::bigint
$$;

-- The first moment of a day.
CREATE FUNCTION eventrouter_day_start(day bigint) RETURNS timestamptz
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT to_timestamp(day * 86400)
$$;

-- A new delivery id for an event published at ``at``: the event's day in the high bits.
CREATE FUNCTION eventrouter_delivery_id(at timestamptz) RETURNS bigint
LANGUAGE sql VOLATILE STRICT AS $$
    SELECT (eventrouter_day(at) << 40) + nextval('deliveries_id_seq')
$$;

-- The column default, for an INSERT that names no id: today. Code that knows the event
-- passes its publish time to eventrouter_delivery_id instead.
CREATE FUNCTION eventrouter_delivery_id_today() RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT eventrouter_delivery_id(now())
$$;

-- The first day (a Monday) of the week holding a day; day 0, 1970-01-01, was a Thursday.
CREATE FUNCTION eventrouter_week_start(day bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT day - ((day + 3) % 7 + 7) % 7
$$;

-- The suffix naming a week's partitions: p and its Monday, p20261130.
CREATE FUNCTION eventrouter_day_suffix(day bigint) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT 'p' || to_char(eventrouter_day_start(day) AT TIME ZONE 'UTC', 'YYYYMMDD')
$$;

-- Create the three partitions of the week holding a day (and their unique indexes)
-- unless they exist; return whether it did. Rows the default partitions hold for that
-- week (stored before it existed) are moved into it, so creating a week late loses
-- nothing. Serialised by an advisory lock: routers creating one week at once do not
-- collide.
CREATE FUNCTION eventrouter_ensure_week(day bigint) RETURNS boolean
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
    EXECUTE format('CREATE UNIQUE INDEX %I ON %I (event_id, destination_id) '
                   'WHERE digest_id IS NULL',
                   'deliveries_' || suffix || '_event_destination', 'deliveries_' || suffix);
    EXECUTE format('CREATE UNIQUE INDEX %I ON %I (digest_id, destination_id) '
                   'WHERE digest_id IS NOT NULL',
                   'deliveries_' || suffix || '_digest_destination', 'deliveries_' || suffix);
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
"""

# The new tables, with the columns of migrations 0001-0009 in the same order (so
# `INSERT ... SELECT *` between old and new works both ways), and the default partitions.
PARTITIONED = """
CREATE TABLE events (
    id              uuid NOT NULL,
    name            text NOT NULL,
    org             text NOT NULL,
    env             text,
    payload         jsonb NOT NULL,
    idempotency_key text,
    duplicate_of    uuid,
    published_at    timestamptz NOT NULL DEFAULT now(),
    received_at     timestamptz NOT NULL DEFAULT now(),
    is_test         boolean NOT NULL DEFAULT false,
    PRIMARY KEY (id, published_at)
) PARTITION BY RANGE (published_at);
CREATE INDEX events_received_at ON events (received_at DESC);
CREATE INDEX events_name_received_at ON events (name, received_at DESC);
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE UNIQUE INDEX events_default_idempotency_key ON events_default (org, idempotency_key)
    WHERE idempotency_key IS NOT NULL AND duplicate_of IS NULL;

CREATE TABLE deliveries (
    id               bigint NOT NULL DEFAULT eventrouter_delivery_id_today(),
    event_id         uuid NOT NULL,
    destination_id   integer REFERENCES destinations ON DELETE SET NULL,
    subscription_id  integer REFERENCES subscriptions ON DELETE SET NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN
                            ('pending', 'delivering', 'succeeded', 'failed', 'cancelled')),
    attempt_count    integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    dispatched_at    timestamptz,
    lease_expires_at timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    claim_token      uuid,
    digest_id        bigint REFERENCES digests ON DELETE SET NULL,
    notice           jsonb,
    PRIMARY KEY (id)
) PARTITION BY RANGE (id);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_leased ON deliveries (lease_expires_at) WHERE status = 'delivering';
CREATE INDEX deliveries_destination_status ON deliveries (destination_id, status);
CREATE INDEX deliveries_status_updated_at ON deliveries (status, updated_at);
CREATE TABLE deliveries_default PARTITION OF deliveries DEFAULT;
CREATE UNIQUE INDEX deliveries_default_event_destination
    ON deliveries_default (event_id, destination_id) WHERE digest_id IS NULL;
CREATE UNIQUE INDEX deliveries_default_digest_destination
    ON deliveries_default (digest_id, destination_id) WHERE digest_id IS NOT NULL;

CREATE TABLE delivery_attempts (
    id             bigint NOT NULL DEFAULT nextval('delivery_attempts_id_seq'),
    delivery_id    bigint NOT NULL,
    attempt_number integer NOT NULL,
    started_at     timestamptz NOT NULL,
    duration_ms    integer NOT NULL,
    outcome        text NOT NULL CHECK (outcome IN ('succeeded', 'retry', 'failed')),
    http_status    integer,
    error          text,
    response_body  text,
    receipt        text,
    PRIMARY KEY (delivery_id, id)
) PARTITION BY RANGE (delivery_id);
CREATE INDEX delivery_attempts_started_at ON delivery_attempts (started_at);
CREATE TABLE delivery_attempts_default PARTITION OF delivery_attempts DEFAULT;
"""

TRIGGERS_AND_VIEW = """
CREATE TRIGGER deliveries_failed AFTER UPDATE OF status ON deliveries
    FOR EACH ROW WHEN (NEW.status = 'failed' AND OLD.status IS DISTINCT FROM 'failed')
    EXECUTE FUNCTION eventrouter_delivery_failed();
CREATE TRIGGER delivery_attempts_message_posted AFTER INSERT ON delivery_attempts
    FOR EACH ROW WHEN (NEW.receipt IS NOT NULL)
    EXECUTE FUNCTION eventrouter_message_posted();

CREATE VIEW event_delivery_summary AS
SELECT e.id AS event_id,
       e.name,
       e.org,
       e.env,
       e.received_at,
       count(d.id) AS total,
       count(d.id) FILTER (WHERE d.status = 'succeeded') AS succeeded,
       count(d.id) FILTER (WHERE d.status IN ('pending', 'delivering')) AS pending,
       count(d.id) FILTER (WHERE d.status = 'failed') AS failed,
       count(d.id) FILTER (WHERE d.status = 'cancelled') AS cancelled,
       e.duplicate_of
FROM events e
LEFT JOIN deliveries d ON d.event_id = e.id
GROUP BY e.id, e.name, e.org, e.env, e.received_at, e.duplicate_of;
"""

# Index names are global: the indexes (and the constraints they back) of the tables being
# replaced are renamed out of the way, so the new tables take the usual names.
RENAME_INDEXES = """
CREATE FUNCTION eventrouter_rename_indexes(tag text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT i.relname FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
             WHERE x.indrelid IN (('events_' || tag)::regclass, ('deliveries_' || tag)::regclass,
                                  ('delivery_attempts_' || tag)::regclass)
    LOOP
        EXECUTE format('ALTER INDEX %I RENAME TO %I', r.relname, r.relname || '_' || tag);
    END LOOP;
END
$$;
"""

UPGRADE = (
    RENAME_INDEXES
    + """
DROP VIEW event_delivery_summary;
DROP TRIGGER deliveries_failed ON deliveries;
-- Foreign keys to events(id) cannot stay: the key of a partitioned table holds its
-- partition key. A prune deletes these rows with their week (router/db/partitions.py).
ALTER TABLE approvals DROP CONSTRAINT approvals_request_event_id_fkey;
ALTER TABLE acknowledgements DROP CONSTRAINT acknowledgements_event_id_fkey;
ALTER TABLE slack_clicks DROP CONSTRAINT slack_clicks_event_id_fkey;
ALTER TABLE slack_message_updates DROP CONSTRAINT slack_message_updates_event_id_fkey;
ALTER TABLE decisions DROP CONSTRAINT decisions_event_id_fkey;
ALTER TABLE events RENAME TO events_unpartitioned;
ALTER TABLE deliveries RENAME TO deliveries_unpartitioned;
ALTER TABLE delivery_attempts RENAME TO delivery_attempts_unpartitioned;
SELECT eventrouter_rename_indexes('unpartitioned');
-- The sequences outlive the old tables: the new ones draw from them.
ALTER TABLE deliveries_unpartitioned ALTER COLUMN id DROP DEFAULT;
ALTER TABLE delivery_attempts_unpartitioned ALTER COLUMN id DROP DEFAULT;
ALTER SEQUENCE deliveries_id_seq OWNED BY NONE;
ALTER SEQUENCE delivery_attempts_id_seq OWNED BY NONE;
-- The low 40 bits of a delivery id; the sequence may not outgrow them. Old ids become
-- low bits (after a downgrade they may already carry a day: it is replaced).
SELECT setval('deliveries_id_seq',
              GREATEST((SELECT max(id & 1099511627775) FROM deliveries_unpartitioned), 1));
ALTER SEQUENCE deliveries_id_seq MAXVALUE 1099511627775;
"""
    + FUNCTIONS
    + PARTITIONED
    + """
-- Partitions for every week the history holds (within the last ten years and the next
-- week; anything else goes to the default partitions), and for the week ahead.
SELECT eventrouter_ensure_week(day) FROM (
    SELECT DISTINCT eventrouter_day(COALESCE(published_at, received_at)) AS day
    FROM events_unpartitioned
    UNION
    SELECT generate_series(eventrouter_day(now()) - 1, eventrouter_day(now()) + 7)
) days
WHERE day BETWEEN eventrouter_day(now()) - 3650 AND eventrouter_day(now()) + 7
ORDER BY day;

INSERT INTO events
SELECT id, name, org, env, payload, idempotency_key, duplicate_of,
       COALESCE(published_at, received_at), received_at, is_test
FROM events_unpartitioned;
-- A delivery's new id: its event's day, and the old id as the low bits.
CREATE TEMP TABLE eventrouter_renumbered ON COMMIT DROP AS
SELECT d.id AS old_id,
       (eventrouter_day(COALESCE(e.published_at, e.received_at, d.created_at)) << 40)
           + (d.id & 1099511627775) AS new_id
FROM deliveries_unpartitioned d LEFT JOIN events_unpartitioned e ON e.id = d.event_id;
INSERT INTO deliveries
SELECT r.new_id, d.event_id, d.destination_id, d.subscription_id, d.status, d.attempt_count,
       d.next_attempt_at, d.dispatched_at, d.lease_expires_at, d.last_error, d.created_at,
       d.updated_at, d.claim_token, d.digest_id, d.notice
FROM deliveries_unpartitioned d JOIN eventrouter_renumbered r ON r.old_id = d.id;
INSERT INTO delivery_attempts
SELECT a.id, r.new_id, a.attempt_number, a.started_at, a.duration_ms, a.outcome,
       a.http_status, a.error, a.response_body, a.receipt
FROM delivery_attempts_unpartitioned a JOIN eventrouter_renumbered r ON r.old_id = a.delivery_id;
-- delivery:failed events not yet emitted name the delivery by its new id.
UPDATE system_events s
SET payload = jsonb_set(s.payload, '{delivery_id}', to_jsonb(r.new_id))
FROM eventrouter_renumbered r
WHERE s.name = 'delivery:failed' AND s.payload ->> 'delivery_id' = r.old_id::text;

DROP TABLE delivery_attempts_unpartitioned, deliveries_unpartitioned, events_unpartitioned;
DROP FUNCTION eventrouter_rename_indexes(text);
"""
    + TRIGGERS_AND_VIEW
    + """
ALTER SEQUENCE deliveries_id_seq OWNED BY deliveries.id;
ALTER SEQUENCE delivery_attempts_id_seq OWNED BY delivery_attempts.id;
ANALYZE events;
ANALYZE deliveries;
ANALYZE delivery_attempts;
"""
)

DOWNGRADE = (
    RENAME_INDEXES
    + """
DROP VIEW event_delivery_summary;
ALTER TABLE events RENAME TO events_partitioned;
ALTER TABLE deliveries RENAME TO deliveries_partitioned;
ALTER TABLE delivery_attempts RENAME TO delivery_attempts_partitioned;
SELECT eventrouter_rename_indexes('partitioned');
ALTER SEQUENCE deliveries_id_seq OWNED BY NONE;
ALTER SEQUENCE delivery_attempts_id_seq OWNED BY NONE;

CREATE TABLE events (
    id              uuid PRIMARY KEY,
    name            text NOT NULL,
    org             text NOT NULL,
    env             text,
    payload         jsonb NOT NULL,
    idempotency_key text,
    duplicate_of    uuid,
    published_at    timestamptz,
    received_at     timestamptz NOT NULL DEFAULT now(),
    is_test         boolean NOT NULL DEFAULT false
);
INSERT INTO events SELECT * FROM events_partitioned;
CREATE INDEX events_received_at ON events (received_at DESC);
CREATE INDEX events_name_received_at ON events (name, received_at DESC);
CREATE UNIQUE INDEX events_idempotency_key ON events (org, idempotency_key)
    WHERE idempotency_key IS NOT NULL AND duplicate_of IS NULL;

CREATE TABLE deliveries (
    id               bigint PRIMARY KEY,
    event_id         uuid NOT NULL REFERENCES events ON DELETE CASCADE,
    destination_id   integer REFERENCES destinations ON DELETE SET NULL,
    subscription_id  integer REFERENCES subscriptions ON DELETE SET NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN
                            ('pending', 'delivering', 'succeeded', 'failed', 'cancelled')),
    attempt_count    integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    dispatched_at    timestamptz,
    lease_expires_at timestamptz,
    last_error       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    claim_token      uuid,
    digest_id        bigint REFERENCES digests ON DELETE SET NULL,
    notice           jsonb
);
INSERT INTO deliveries SELECT * FROM deliveries_partitioned;
CREATE UNIQUE INDEX deliveries_event_destination ON deliveries (event_id, destination_id)
    WHERE digest_id IS NULL;
CREATE UNIQUE INDEX deliveries_digest_destination ON deliveries (digest_id, destination_id)
    WHERE digest_id IS NOT NULL;
CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_leased ON deliveries (lease_expires_at) WHERE status = 'delivering';
CREATE INDEX deliveries_destination_status ON deliveries (destination_id, status);
CREATE INDEX deliveries_status_updated_at ON deliveries (status, updated_at);

CREATE TABLE delivery_attempts (
    id             bigint PRIMARY KEY,
    delivery_id    bigint NOT NULL REFERENCES deliveries ON DELETE CASCADE,
    attempt_number integer NOT NULL,
    started_at     timestamptz NOT NULL,
    duration_ms    integer NOT NULL,
    outcome        text NOT NULL CHECK (outcome IN ('succeeded', 'retry', 'failed')),
    http_status    integer,
    error          text,
    response_body  text,
    receipt        text
);
INSERT INTO delivery_attempts SELECT * FROM delivery_attempts_partitioned;
CREATE INDEX delivery_attempts_delivery_id ON delivery_attempts (delivery_id);
CREATE INDEX delivery_attempts_started_at ON delivery_attempts (started_at);

DROP TABLE delivery_attempts_partitioned, deliveries_partitioned, events_partitioned;
-- The foreign keys of migrations 0005 and 0006 again (rows whose event is gone would
-- have gone with it).
DELETE FROM approvals x WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = x.request_event_id);
DELETE FROM acknowledgements x WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = x.event_id);
DELETE FROM slack_clicks x WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = x.event_id);
DELETE FROM slack_message_updates x
WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = x.event_id);
ALTER TABLE approvals ADD CONSTRAINT approvals_request_event_id_fkey
    FOREIGN KEY (request_event_id) REFERENCES events ON DELETE CASCADE;
ALTER TABLE acknowledgements ADD CONSTRAINT acknowledgements_event_id_fkey
    FOREIGN KEY (event_id) REFERENCES events ON DELETE CASCADE;
ALTER TABLE slack_clicks ADD CONSTRAINT slack_clicks_event_id_fkey
    FOREIGN KEY (event_id) REFERENCES events ON DELETE CASCADE;
ALTER TABLE slack_message_updates ADD CONSTRAINT slack_message_updates_event_id_fkey
    FOREIGN KEY (event_id) REFERENCES events ON DELETE CASCADE;
DELETE FROM decisions x WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = x.event_id);
ALTER TABLE decisions ADD CONSTRAINT decisions_event_id_fkey
    FOREIGN KEY (event_id) REFERENCES events ON DELETE CASCADE;
DROP FUNCTION eventrouter_rename_indexes(text);
DROP FUNCTION eventrouter_ensure_week(bigint), eventrouter_day_suffix(bigint),
    eventrouter_week_start(bigint), eventrouter_delivery_id_today(),
    eventrouter_delivery_id(timestamptz), eventrouter_day_start(bigint),
    eventrouter_day(timestamptz);

-- Ids keep their values; the sequences belong to the plain tables again and continue
-- past the largest id (renumbered ids included).
ALTER SEQUENCE deliveries_id_seq NO MAXVALUE OWNED BY deliveries.id;
ALTER SEQUENCE delivery_attempts_id_seq OWNED BY delivery_attempts.id;
SELECT setval('deliveries_id_seq', GREATEST((SELECT max(id) FROM deliveries), 1));
SELECT setval('delivery_attempts_id_seq', GREATEST((SELECT max(id) FROM delivery_attempts), 1));
ALTER TABLE deliveries ALTER COLUMN id SET DEFAULT nextval('deliveries_id_seq');
ALTER TABLE delivery_attempts ALTER COLUMN id SET DEFAULT nextval('delivery_attempts_id_seq');
"""
    + TRIGGERS_AND_VIEW
)


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
