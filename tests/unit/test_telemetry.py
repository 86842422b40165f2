"""The counts routers and workers add per batch, pure."""

from __future__ import annotations

from eventrouter.router.telemetry import attempt_counts, batch_counts, bucket_of


def test_buckets_hold_their_upper_bound() -> None:
    assert bucket_of(0.0) == "0.005"
    assert bucket_of(0.005) == "0.005"
    assert bucket_of(0.0051) == "0.01"
    assert bucket_of(60.0) == "60.0"
    assert bucket_of(61.0) == "+Inf"


def test_a_batch_of_attempts_counts_outcomes_finals_and_durations() -> None:
    counts = attempt_counts(
        "webhook",
        [("succeeded", "succeeded", 20), ("retry", "pending", 1500), ("failed", "failed", 5)],
    )
    assert counts["attempts|succeeded|webhook"] == 1
    assert counts["attempts|retry|webhook"] == 1
    assert counts["deliveries|succeeded|webhook"] == 1
    assert counts["deliveries|failed|webhook"] == 1
    assert "deliveries|pending|webhook" not in counts
    assert counts["attempt_seconds|webhook|0.025"] == 1
    assert counts["attempt_seconds|webhook|2.5"] == 1
    assert counts["attempt_seconds_count|webhook"] == 3
    assert abs(counts["attempt_seconds_sum|webhook"] - 1.525) < 1e-9
    assert attempt_counts("slack", []) == {}


def test_a_router_batch_counts_only_what_happened() -> None:
    assert batch_counts(stored=3, duplicates=0, rejected=1, deliveries=6) == {
        "events|stored": 3,
        "events|rejected": 1,
        "deliveries|planned": 6,
    }
