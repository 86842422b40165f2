"""The worker's claim reads a task's rows by primary key, however stale the planner's
statistics are (they lag behind a burst until autovacuum analyses again)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from uuid import uuid4

import pytest
from sqlalchemy import Engine, text

from eventrouter.router.db import claims
from eventrouter.router.destinations import SendContext
from eventrouter.router.destinations.transport import http_client
from eventrouter.router.settings import Settings
from eventrouter.workers.delivery import deliver_batch
from tests.helpers import Seed, rows
from tests.receiver import Receiver, ok


@pytest.fixture
def ctx() -> Iterator[SendContext]:
    client = http_client(5.0)
    yield SendContext(http=client, default_timeout=5.0)
    client.close()


def test_claim_and_defer_read_only_the_tasks_rows(
    seed: Seed, clean_db: Engine, ctx: SendContext, settings: Settings
) -> None:
    """Thousands of other pending rows of the same destination are not read to claim a
    batch (the planner, on statistics from before a burst, once scanned them all);
    checked through EXPLAIN ANALYZE, not a timer."""
    with Receiver(ok()) as rx:
        destination = seed.destination(rx.url_for("/hook"))
        # Statistics taken while the table held a few finished rows, then a burst: the
        # state a storm starts from, before autovacuum analyses again.
        with clean_db.begin() as conn:
            for count, status in ((20, "succeeded"), (3000, "pending")):
                conn.exec_driver_sql(
                    "WITH e AS (INSERT INTO events (id, name, org, payload) "
                    "SELECT gen_random_uuid(), 'e', 'default', '{}' "
                    "FROM generate_series(1, %s) RETURNING id) "
                    "INSERT INTO deliveries (event_id, destination_id, status) "
                    "SELECT id, %s, %s FROM e",
                    (count, destination, status),
                )
                if status == "succeeded":
                    conn.exec_driver_sql("ANALYZE deliveries")
        ids = [
            r.id
            for r in rows(
                clean_db, "SELECT id FROM deliveries WHERE status = 'pending' ORDER BY id LIMIT 100"
            )
        ]
        statements = {
            "CLAIM": (
                claims.CLAIM,
                {"ids": ids, "destination_id": destination, "lease": 60, "token": str(uuid4())},
            ),
            "DEFER_TASK": (
                claims.DEFER_TASK,
                {"ids": ids, "destination_id": destination, "delay": 1},
            ),
        }
        for name, (statement, params) in statements.items():
            with clean_db.connect() as conn:
                explained = conn.execute(text("EXPLAIN ANALYZE " + statement.text), params)
                plan = "\n".join(row[0] for row in explained)
                conn.rollback()
            used = re.findall(
                r"Index (?:Only )?Scan (?:Backward )?(?:using|on) (deliveries_\w+)", plan
            )
            # The primary key (of a day's partition), or a plain scan while the table is
            # small: never an index over the destination's pending rows, whose size stale
            # statistics underestimate.
            primary_keys = {i for i in used if re.fullmatch(r"deliveries(_p\d{8})?_pkey", i)}
            assert set(used) == primary_keys, f"{name}:\n{plan}"
        summary = deliver_batch(clean_db, ctx, settings, destination, ids)
        assert summary.succeeded == 100
