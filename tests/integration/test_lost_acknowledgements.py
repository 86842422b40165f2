"""A worker's writes repeated after a lost commit acknowledgement, on real Postgres.

When the connection drops after COMMIT reached Postgres but before its answer came back,
the worker cannot know whether the write happened, so it runs it again
(``with_database``). A repeat must find the rows the first run took, and must never touch
rows another worker has claimed since.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, make_url

from eventrouter.router.db import make_engine
from eventrouter.router.db.claims import load_destination
from eventrouter.router.destinations import Outcome, SendContext
from eventrouter.router.destinations.transport import http_client
from eventrouter.router.settings import Settings
from eventrouter.workers.bookkeeping import AttemptResult
from eventrouter.workers.delivery import BatchDelivery, deliver_batch
from tests.cut_proxy import CutProxy
from tests.helpers import Seed, rows
from tests.receiver import Receiver, ok


@pytest.fixture
def ctx() -> Iterator[SendContext]:
    client = http_client(5.0)
    yield SendContext(http=client, default_timeout=5.0)
    client.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(ok()) as rx:
        yield rx


def _states(engine: Engine, ids: list[int]) -> list[Any]:
    return rows(
        engine,
        "SELECT id, status, attempt_count FROM deliveries WHERE id = ANY(:ids) ORDER BY id",
        ids=ids,
    )


def _batch(engine: Engine, ctx: SendContext, settings: Settings, destination: int) -> BatchDelivery:
    """One task's batch, as two workers would each run it."""
    with engine.connect() as conn:
        record = load_destination(conn, destination)
    assert record is not None
    return BatchDelivery(engine, ctx, settings, record)


def test_a_repeated_hand_back_leaves_the_next_claim_alone(
    seed: Seed, clean_db: Engine, ctx: SendContext, settings: Settings, receiver: Receiver
) -> None:
    destination = seed.destination(receiver.url_for("/hook"))
    ids = [seed.delivery(seed.event(), destination) for _ in range(2)]
    first = _batch(clean_db, ctx, settings, destination)
    taken = first.claim(ids)
    first.flush([], release=taken)  # time box: handed back unsent
    second = _batch(clean_db, ctx, settings, destination)
    claimed = second.claim(ids)
    assert len(claimed) == 2
    first.flush([], release=taken)  # the same write again: its acknowledgement was lost
    assert [(s.status, s.attempt_count) for s in _states(clean_db, ids)] == [("delivering", 1)] * 2
    second.flush([AttemptResult(d, Outcome.succeeded(200), datetime.now(UTC), 1) for d in claimed])
    assert [s.status for s in _states(clean_db, ids)] == ["succeeded"] * 2
    assert second.summary.succeeded == 2


def test_a_repeated_deferral_leaves_the_next_claim_alone(
    seed: Seed, clean_db: Engine, ctx: SendContext, settings: Settings, receiver: Receiver
) -> None:
    destination = seed.destination(receiver.url_for("/hook"))
    delivery_id = seed.delivery(seed.event(), destination)
    first = _batch(clean_db, ctx, settings, destination)
    (taken,) = first.claim([delivery_id])
    deferred = [AttemptResult(taken, Outcome.deferred(0.0, "rate limit"), datetime.now(UTC), 0)]
    first.flush(deferred)
    assert _states(clean_db, [delivery_id])[0].status == "pending"
    second = _batch(clean_db, ctx, settings, destination)
    assert len(second.claim([delivery_id])) == 1
    first.flush(deferred)  # repeated after a lost acknowledgement
    (state,) = _states(clean_db, [delivery_id])
    assert (state.status, state.attempt_count) == ("delivering", 1)


def test_a_repeated_claim_finds_the_rows_it_took(
    seed: Seed, clean_db: Engine, ctx: SendContext, settings: Settings, receiver: Receiver
) -> None:
    destination = seed.destination(receiver.url_for("/hook"))
    ids = [seed.delivery(seed.event(), destination) for _ in range(3)]
    batch = _batch(clean_db, ctx, settings, destination)
    first = batch.claim(ids)
    again = batch.claim(ids)  # the same claim, run again: the first one's answer was lost
    assert [(d.id, d.attempt) for d in again] == [(d.id, d.attempt) for d in first]
    assert [(s.status, s.attempt_count) for s in _states(clean_db, ids)] == [("delivering", 1)] * 3
    other = _batch(clean_db, ctx, settings, destination)
    assert other.claim(ids) == []  # another task's claim still finds nothing to take


def test_a_claim_whose_commit_answer_is_lost_sends_at_once(
    seed: Seed,
    clean_db: Engine,
    database_url: str,
    ctx: SendContext,
    settings: Settings,
    receiver: Receiver,
) -> None:
    """Through a real dropped connection: the claim's COMMIT reaches Postgres, its answer
    never reaches the worker, which claims again on a new connection."""
    destination = seed.destination(receiver.url_for("/hook"))
    ids = [seed.delivery(seed.event(), destination) for _ in range(3)]
    url = make_url(database_url)
    with CutProxy(url.port or 5432, url.host or "127.0.0.1") as proxy:
        engine = make_engine(url.set(port=proxy.port).render_as_string(hide_password=False))
        try:
            proxy.drop_reply(b"COMMIT", after=b"'delivering'")
            summary = deliver_batch(engine, ctx, settings, destination, ids)
            assert proxy.cut.is_set()
        finally:
            engine.dispose()
    assert (summary.claimed, summary.succeeded) == (3, 3)
    assert receiver.count() == 3
    assert [(s.status, s.attempt_count) for s in _states(clean_db, ids)] == [("succeeded", 1)] * 3
