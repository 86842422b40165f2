"""``show EVENT`` and ``show DELIVERY`` on real Postgres, across weeks: an event found where
its id does not say (a stated publish time, a non-v7 id), a digest's delivery released in a
later week than its event, and another org's rows never shown."""

from __future__ import annotations

import time
import uuid

from sqlalchemy import Engine, text

from eventrouter.router.db import details
from eventrouter.router.db.partitions import ensure_weeks
from eventrouter.router.retention import SECONDS_PER_DAY, day_of_time
from tests.helpers import Seed
from tests.integration.test_retention import event_id_at

NOW = time.time()
TWO_WEEKS_AGO = NOW - 14 * SECONDS_PER_DAY


def weeks(engine: Engine) -> None:
    with engine.begin() as conn:
        ensure_weeks(conn, [day_of_time(NOW), day_of_time(TWO_WEEKS_AGO)])


def stored(
    engine: Engine, destination: int, *, published: float, event_id: str, org: str = "default"
) -> tuple[str, int]:
    """An event published at ``published`` with one failed delivery and two attempts."""
    with engine.begin() as conn:
        delivery = conn.execute(
            text(
                "WITH e AS (INSERT INTO events (id, name, org, payload, published_at) "
                "VALUES (:e, 'payment:failed', :org, '{\"n\": 1}', to_timestamp(:at)) "
                "RETURNING published_at), "
                "d AS (INSERT INTO deliveries (id, event_id, destination_id, status, "
                "attempt_count) SELECT eventrouter_delivery_id(published_at), :e, :d, 'failed', 2 "
                "FROM e RETURNING id), "
                "a AS (INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, "
                "duration_ms, outcome, http_status, error) "
                "SELECT id, n, now(), 5, CASE n WHEN 1 THEN 'retry' ELSE 'failed' END, 500, "
                "'HTTP 500' FROM d, generate_series(1, 2) n) "
                "SELECT id FROM d"
            ),
            {"e": event_id, "d": destination, "at": published, "org": org},
        ).scalar_one()
    return event_id, int(delivery)


def test_an_event_is_shown_with_its_deliveries_attempts_and_decisions(seed: Seed) -> None:
    _, destination, subscription = seed.route(".*", "http://127.0.0.1:9/")
    weeks(seed.engine)
    event_id, delivery = stored(
        seed.engine, destination, published=TWO_WEEKS_AGO, event_id=event_id_at(TWO_WEEKS_AGO)
    )
    with seed.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO decisions (event_id, subscription_id, decision, reason) "
                "VALUES (:e, :s, 'delivered', '')"
            ),
            {"e": event_id, "s": subscription},
        )
        shown = details.event_detail(conn, "default", event_id)
    assert shown is not None and shown.id == event_id and shown.payload == {"n": 1}
    assert shown.published_at is not None
    assert abs(shown.published_at.timestamp() - TWO_WEEKS_AGO) < 0.001
    (listed,) = shown.deliveries
    assert (listed.id, listed.status, listed.attempt_count) == (delivery, "failed", 2)
    assert [(a.attempt_number, a.outcome, a.http_status) for a in listed.attempts] == [
        (1, "retry", 500),
        (2, "failed", 500),
    ]
    assert listed.attempts[0].started_at.tzinfo is not None
    assert [(d.subscription_id, d.decision) for d in shown.decisions] == [
        (subscription, "delivered")
    ]


def test_an_event_published_in_another_week_than_its_id_names_is_found(seed: Seed) -> None:
    _, destination, _ = seed.route(".*", "http://127.0.0.1:9/")
    weeks(seed.engine)
    cases = {
        "a stated publish time": event_id_at(NOW),
        "a non-v7 id": str(uuid.uuid4()),
    }
    for case, made in cases.items():
        event_id, delivery = stored(
            seed.engine, destination, published=TWO_WEEKS_AGO, event_id=made
        )
        with seed.engine.connect() as conn:
            shown = details.event_detail(conn, "default", event_id)
        assert shown is not None, case
        assert [d.id for d in shown.deliveries] == [delivery], case
        assert len(shown.deliveries[0].attempts) == 2, case


def test_another_orgs_event_and_delivery_are_not_shown(seed: Seed) -> None:
    _, destination, _ = seed.route(".*", "http://127.0.0.1:9/", org="other")
    weeks(seed.engine)
    event_id, delivery = stored(
        seed.engine, destination, published=NOW, event_id=event_id_at(NOW), org="other"
    )
    with seed.engine.connect() as conn:
        assert details.event_detail(conn, "default", event_id) is None
        assert details.delivery_detail(conn, "default", delivery) is None
        assert details.event_detail(conn, "other", event_id) is not None
        assert details.delivery_detail(conn, "other", delivery) is not None
        assert details.event_detail(conn, "default", str(uuid.uuid4())) is None
        assert details.delivery_detail(conn, "default", delivery + 1) is None


def test_a_digest_released_in_a_later_week_is_shown_with_its_event(seed: Seed) -> None:
    """A digest's delivery carries the day it was released, not its event's: it is in
    another week's partition than the event it names."""
    _, destination, subscription = seed.route(".*", "http://127.0.0.1:9/")
    weeks(seed.engine)
    event_id, delivery = stored(
        seed.engine, destination, published=TWO_WEEKS_AGO, event_id=event_id_at(TWO_WEEKS_AGO)
    )
    with seed.engine.begin() as conn:
        digest_delivery = conn.execute(
            text(
                "WITH g AS (INSERT INTO digests (subscription_id, kind, key, release_at, "
                "first_at, last_at, count, last_event_id, released_at) "
                "VALUES (:s, 'group', '', now(), to_timestamp(:at), to_timestamp(:at), 1, :e, "
                "now()) RETURNING id), "
                "dc AS (INSERT INTO decisions (event_id, subscription_id, decision, reason, "
                "digest_id) SELECT :e, :s, 'grouped', '', id FROM g) "
                "INSERT INTO deliveries (id, event_id, destination_id, subscription_id, "
                "digest_id, status) "
                "SELECT eventrouter_delivery_id(now()), :e, :d, :s, id, 'succeeded' FROM g "
                "RETURNING id"
            ),
            {"e": event_id, "s": subscription, "d": destination, "at": TWO_WEEKS_AGO},
        ).scalar_one()
        shown = details.event_detail(conn, "default", event_id)
        alone = details.delivery_detail(conn, "default", digest_delivery)
    assert shown is not None
    assert [d.id for d in shown.deliveries] == [delivery, digest_delivery]
    assert shown.decisions[0].digest_deliveries == [digest_delivery]
    assert alone is not None and (alone.event_id, alone.event) == (event_id, "payment:failed")
