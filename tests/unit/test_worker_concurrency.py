"""The worker's default process count: CPUs + 1, plus the processes a slow destination holds."""

from __future__ import annotations

import os

from eventrouter.router.settings import Settings


def test_the_slow_destination_workers_come_on_top_of_cpus_plus_one() -> None:
    cpus = os.cpu_count() or 1
    assert Settings(slow_destination_workers=1).default_concurrency == cpus + 2
    assert Settings(slow_destination_workers=2).default_concurrency == cpus + 3


def test_many_slow_destination_workers_at_most_double_it() -> None:
    cpus = os.cpu_count() or 1
    assert Settings(slow_destination_workers=1_000).default_concurrency == 2 * (cpus + 1)
