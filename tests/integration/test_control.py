"""The service layer on real Postgres: roles decided at the seam, orgs isolated, pages that
neither skip nor repeat."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from eventrouter.router.control import Caller, Control, Role
from eventrouter.router.errors import Conflict, Forbidden, NotFound
from eventrouter.router.models.configuration import ChannelIn, DestinationIn, SubscriptionIn
from eventrouter.router.settings import Settings
from tests.helpers import Seed, scalar


def control(clean_db: Engine, settings: Settings, role: Role, org: str = "default") -> Control:
    return Control(clean_db, settings, Caller(org=org, role=role))


def test_roles_are_checked_by_the_services(clean_db: Engine, settings: Settings) -> None:
    viewer = control(clean_db, settings, Role.VIEWER)
    developer = control(clean_db, settings, Role.DEVELOPER)
    admin = control(clean_db, settings, Role.ADMIN)
    with pytest.raises(Forbidden):
        viewer.channels.add(ChannelIn(name="c", pattern="a"))
    with pytest.raises(Forbidden):
        developer.destinations.add(
            DestinationIn(name="d", type="webhook", config={"url": "http://127.0.0.1:9/"})
        )
    with pytest.raises(Forbidden):
        viewer.deliveries.retry_failed()
    with pytest.raises(Forbidden):
        viewer.events.publish("x")
    admin.channels.add(ChannelIn(name="c", pattern="a"))
    assert [c.name for c in viewer.channels.list() if not c.is_system] == ["c"]
    assert developer.deliveries.retry_failed() == []
    assert scalar(clean_db, "SELECT count(*) FROM destinations") == 0


def test_another_orgs_objects_are_not_found(clean_db: Engine, settings: Settings) -> None:
    acme = control(clean_db, settings, Role.ADMIN, "acme")
    globex = control(clean_db, settings, Role.ADMIN, "globex")
    acme.channels.add(ChannelIn(name="pay", pattern="payment:.*"))
    acme.destinations.add(
        DestinationIn(name="hook", type="webhook", config={"url": "http://127.0.0.1:9/"})
    )
    acme.subscriptions.add(SubscriptionIn(name="s", channels=["pay"], destinations=["hook"]))
    for attempt in (
        lambda: globex.channels.get("pay"),
        lambda: globex.destinations.get("hook"),
        lambda: globex.subscriptions.get("s"),
        lambda: globex.destinations.remove("hook"),
        lambda: globex.subscriptions.add(
            SubscriptionIn(name="t", channels=["pay"], destinations=["hook"])
        ),
    ):
        with pytest.raises(NotFound):
            attempt()
    # The same names are free in another org; a second one in the same org is a conflict.
    globex.channels.add(ChannelIn(name="pay", pattern="x"))
    with pytest.raises(Conflict):
        acme.channels.add(ChannelIn(name="pay", pattern="y"))


def test_history_pages_have_no_gaps_or_repeats(
    clean_db: Engine, settings: Settings, seed: Seed
) -> None:
    ids = {seed.event(f"page:{i}") for i in range(250)}
    seed.event("page:other", org="elsewhere")
    viewer = control(clean_db, settings, Role.VIEWER)
    seen: list[str] = []
    token = None
    while True:
        page = viewer.events.history(limit=37, cursor_token=token)
        seen += [e.id for e in page.items]
        if page.next_cursor is None:
            break
        token = page.next_cursor
    assert len(seen) == len(set(seen)) == 250 and set(seen) == ids
