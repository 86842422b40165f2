"""The worker's log line for a batch says what happened to its deliveries."""

from __future__ import annotations

from eventrouter.workers.bookkeeping import BatchSummary


def test_a_batch_is_described_by_what_happened() -> None:
    assert BatchSummary(claimed=3, succeeded=2, retrying=1).describe() == (
        "3 claimed: 2 succeeded, 1 retrying"
    )
    assert BatchSummary(cancelled=4).describe() == "4 cancelled"
    assert BatchSummary().describe() == "nothing to send"
