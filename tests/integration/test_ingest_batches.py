"""The router's batches travel to Postgres as one JSON text each (``router.db.records``):
what goes in comes out unchanged, however its strings are written, and what Postgres
cannot hold is refused there, as a batch the store then retries entry by entry."""

from __future__ import annotations

import json
import time

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from eventrouter.router.db import ingest
from eventrouter.router.db.ingest import PlannedRow
from eventrouter.router.db.rules import DecisionRow, insert_decisions
from eventrouter.router.events import Event, new_event_id
from tests.helpers import Seed

AWKWARD = 'quote " backslash \\ slash / tab \t newline \n é ü 漢字 😀 \u2028 {"x": [1]}'


def _event(**changes: object) -> Event:
    values: dict[str, object] = {
        "id": new_event_id(),
        "name": "payment:failed",
        "org": "acme",
        "env": "prod",
        "payload": {"text": AWKWARD, "n": 1.5, "nested": {"list": [None, True, "\\u0000"]}},
        "published_at": time.time(),
    }
    values.update(changes)
    return Event(**values)  # type: ignore[arg-type]


def test_events_deliveries_and_decisions_come_back_as_they_went_in(
    clean_db: Engine, seed: Seed
) -> None:
    channel = seed.channel("payment:.*")
    destination = seed.destination()
    subscription = seed.subscription([channel], [destination])
    keyed = _event(idempotency_key=AWKWARD, env=None)
    plain = _event()
    notice = json.dumps({"state": "firing", "why": AWKWARD})
    with clean_db.begin() as conn:
        new = ingest.insert_events(conn, [keyed, plain], {plain.id: keyed.id})
        assert new == {keyed.id, plain.id}
        planned = [
            PlannedRow(keyed.id, destination, subscription, notice=notice),
            PlannedRow(plain.id, destination, subscription, recipient=AWKWARD, address="a@b.c"),
        ]
        published = {keyed.id: keyed.published_at, plain.id: plain.published_at}
        stored = ingest.insert_deliveries(conn, planned, published)
        assert sorted(d for _, d in stored) == [destination, destination]
        insert_decisions(conn, [DecisionRow(keyed.id, subscription, "held", reason=AWKWARD)])
    with clean_db.connect() as conn:
        events = {
            str(row.id): row
            for row in conn.execute(
                text(
                    "SELECT id, env, payload, idempotency_key, duplicate_of, "
                    "extract(epoch FROM published_at) AS published FROM events"
                )
            )
        }
        deliveries = {
            str(row.event_id): row
            for row in conn.execute(text("SELECT event_id, notice, recipient FROM deliveries"))
        }
        reason = conn.execute(text("SELECT reason FROM decisions")).scalar_one()
    assert events[keyed.id].idempotency_key == AWKWARD
    assert events[keyed.id].env is None and events[plain.id].env == "prod"
    assert events[plain.id].payload == plain.payload
    assert str(events[plain.id].duplicate_of) == keyed.id
    assert float(events[plain.id].published) == pytest.approx(plain.published_at, abs=1e-6)
    assert deliveries[keyed.id].notice == json.loads(notice)
    assert deliveries[plain.id].recipient == AWKWARD
    assert reason == AWKWARD


def test_a_string_postgres_cannot_hold_is_refused_by_postgres(clean_db: Engine) -> None:
    """A NUL in a key passes the driver (it is escaped in the JSON text) and Postgres
    refuses the batch: a database error, which the store answers entry by entry."""
    with pytest.raises(DBAPIError), clean_db.begin() as conn:
        ingest.insert_events(conn, [_event(idempotency_key="nul \x00 inside")], {})
