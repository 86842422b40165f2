"""The one way tests and the benchmark empty the database: every table the schema holds,
read from the catalog, so a table a later migration adds is never forgotten."""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, Engine, text

from eventrouter.router.db import reset
from tests.helpers import Seed

# What a migration might add next: a table that references configuration, with an id.
_LATER_TABLE = (
    "CREATE TABLE later_added (id bigserial PRIMARY KEY, "
    "destination_id integer REFERENCES destinations (id)); "
    "INSERT INTO later_added (destination_id) SELECT id FROM destinations"
)


def _counts(conn: Connection) -> dict[str, int]:
    names = conn.execute(
        text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename NOT IN ('alembic_version', 'config_version')"
        )
    ).scalars()
    return {
        name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one()
        for name in names
        if not name.startswith(("events_", "deliveries_", "delivery_attempts_"))
    }


def _fill(seed: Seed) -> None:
    _, destination, _ = seed.route("payment:.*", "http://127.0.0.1:9/hook")
    event = seed.event("payment:failed")
    seed.delivery(event, destination)


@pytest.mark.parametrize("how", ["delete", "truncate"])
def test_every_table_is_emptied_a_later_one_too_and_ids_restart(
    seed: Seed, engine: Engine, how: str
) -> None:
    _fill(seed)
    with engine.connect() as conn:
        system = conn.execute(text("SELECT count(*) FROM channels WHERE is_system")).scalar_one()
        conn.exec_driver_sql(_LATER_TABLE)
        found = reset.tables(conn)
        assert found.names.index("later_added") < found.names.index("destinations")
        assert ("later_added", "later_added_id_seq") in found.sequences
        if how == "delete":
            conn.exec_driver_sql(found.delete_sql())
        else:
            conn.exec_driver_sql(found.truncate_sql())
        counts = _counts(conn)
        assert counts.pop("channels") == system
        assert set(counts.values()) == {0}, counts
        restarted = text("INSERT INTO later_added DEFAULT VALUES RETURNING id")
        assert conn.execute(restarted).scalar_one() == 1
        conn.rollback()


def test_keeping_the_configuration_empties_only_the_rest(seed: Seed, engine: Engine) -> None:
    _fill(seed)
    reset.truncate(engine, keep_configuration=True)
    with engine.connect() as conn:
        counts = _counts(conn)
    kept = {name: counts.pop(name) for name in reset.CONFIGURATION if name in counts}
    assert kept["destinations"] == 1 and kept["subscriptions"] == 1
    assert set(counts.values()) == {0}, counts


def test_the_system_channels_and_the_config_counter_stay(clean_db: Engine) -> None:
    with clean_db.connect() as conn:
        version = conn.execute(text("SELECT version FROM config_version")).scalar_one()
        system = conn.execute(text("SELECT count(*) FROM channels WHERE is_system")).scalar_one()
    reset.truncate(clean_db)
    with clean_db.connect() as conn:
        assert system > 0
        assert conn.execute(text("SELECT count(*) FROM channels")).scalar_one() == system
        assert conn.execute(text("SELECT version FROM config_version")).scalar_one() >= version


def test_children_come_before_what_they_reference() -> None:
    order = reset.children_first(
        ["a", "b", "c", "d"], [("b", "a"), ("c", "b"), ("d", "a"), ("x", "a")]
    )
    assert order.index("c") < order.index("b") < order.index("a")
    assert order.index("d") < order.index("a")
    with pytest.raises(ValueError, match="cycle"):
        reset.children_first(["a", "b"], [("a", "b"), ("b", "a")])
