"""The retention case at a tiny size, reusing its loaded database: the second run finds the
load and times the queries alone, and neither writes bench/RESULTS-retention.md."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg

from tests.conftest import POSTGRES_SERVER_URL

ROOT = Path(__file__).resolve().parents[2]


def test_a_kept_database_is_reused_and_only_its_queries_are_timed(tmp_path: Path) -> None:
    database = f"er_bench_ret_{secrets.token_hex(4)}"
    env = {
        **os.environ,
        "BENCH_POSTGRES_URL": POSTGRES_SERVER_URL,
        "BENCH_DATABASE": database,
        "BENCH_LOG_DIR": str(tmp_path / "logs"),
    }
    kept = f"{database}_weeks_600"
    results = ROOT / "bench" / "RESULTS-retention.md"
    before = results.read_text()
    argv = [sys.executable, "-m", "bench", "--only", "retention", "--rows", "600"]
    argv += ["--schema", "weeks", "--reuse", "--out", str(tmp_path / "q.md")]
    dsn = POSTGRES_SERVER_URL.replace("postgresql+psycopg", "postgresql") + "/postgres"
    try:
        runs = []
        for n in (1, 2):
            raw = tmp_path / f"run{n}.json"
            done = subprocess.run(
                [*argv, "--json", str(raw)],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
            runs.append((done.stdout, json.loads(raw.read_text())["retention"]))
        (first, one), (second, two) = runs
        assert "(created)" in first and "loading 600" in first
        assert "(reused, already loaded)" in second and "loading" not in second
        assert one["load"]["weeks"]["counts"] == two["load"]["weeks"]["counts"]
        # About --rows attempts: an event gets a second delivery by a hash of its id (its
        # time), so at 100 events the count is 600 ± 20 (one sigma).
        assert abs(two["load"]["weeks"]["counts"]["delivery_attempts"] - 600) <= 100
        assert set(two["queries"]) == {"weeks"} and "ingest" not in two
        assert "show EVENT" in (tmp_path / "q.md").read_text()
        assert results.read_text() == before
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{kept}" WITH (FORCE)')
