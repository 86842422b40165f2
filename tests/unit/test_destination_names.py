"""The worker's destination names: remembered for ``ttl``, then looked up again, so a
rename shows; a failed lookup is not remembered."""

from __future__ import annotations

from eventrouter.workers.names import REMOVED, UNKNOWN, DestinationNames


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_name_is_looked_up_again_after_ttl_so_a_rename_shows() -> None:
    names = {7: "hook"}
    asked: list[int] = []

    def lookup(destination_id: int) -> str | None:
        asked.append(destination_id)
        return names.get(destination_id, REMOVED)

    clock = Clock()
    cache = DestinationNames(lookup, ttl=1.0, clock=clock)
    assert cache.describe(7) == "hook (id 7)"
    names[7] = "hook-renamed"
    clock.now += 0.5
    assert cache.describe(7) == "hook (id 7)"  # within ttl: no query per batch
    assert asked == [7]
    clock.now += 0.6
    assert cache.describe(7) == "hook-renamed (id 7)"
    assert asked == [7, 7]
    del names[7]
    clock.now += 1.1
    assert cache.describe(7) == f"{REMOVED} (id 7)"


def test_a_failed_lookup_is_not_remembered() -> None:
    answers: list[str | None] = [None, "hook"]
    cache = DestinationNames(lambda _: answers.pop(0), ttl=60.0, clock=Clock())
    assert cache.describe(3) == f"{UNKNOWN} (id 3)"
    assert cache.describe(3) == "hook (id 3)"
