"""The benchmark harness at tiny sizes, so it cannot rot: every case runs once.

No figure is asserted (speed is the benchmark's business, not the suite's): only that
each case completed, counted what it sent, and that RESULTS.md was written. It uses its
own database, key prefix and log directory, so it never meets a real `make bench`.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg
import redis
from sqlalchemy import make_url

from tests.conftest import POSTGRES_SERVER_URL, REDIS_URL

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_writes_results(tmp_path: Path, redis_url: str) -> None:
    token = secrets.token_hex(4)
    env = {
        **os.environ,
        "BENCH_POSTGRES_URL": POSTGRES_SERVER_URL,
        "BENCH_DATABASE": f"er_bench_smoke_{token}",
        "BENCH_REDIS_URL": REDIS_URL,
        "BENCH_KEY_PREFIX": f"benchsmoke{token}",
        "BENCH_LOG_DIR": str(tmp_path / "logs"),
    }
    out, raw = tmp_path / "RESULTS.md", tmp_path / "results.json"
    argv = [sys.executable, "-m", "bench", "--quick", "--runs", "1", "--no-profile"]
    argv += ["--out", str(out), "--json", str(raw)]
    done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    results = json.loads(raw.read_text())
    cases = results["cases"]
    sizes = results["sizes"]
    (e2e,) = cases["e2e"]
    assert (e2e["deliveries"], e2e["duplicates"]) == (sizes["e2e"], 0)
    assert cases["baseline_e2e"][0]["deliveries"] == sizes["baseline_e2e"]
    assert cases["fanout"][0]["deliveries"] == sizes["fanout_events"] * 10
    assert cases["slow"][0]["fast_deliveries"] == sizes["slow_events"] * 10
    assert cases["latency"][0]["events"] == sizes["latency_rate"] * sizes["latency_seconds"]
    assert cases["latency"][0]["p50_ms"] > 0
    assert cases["scale_1"][0]["deliveries"] == cases["scale_2"][0]["deliveries"]
    assert [run["events"] for run in cases["routers_1"] + cases["routers_2"]] == [
        sizes["routing_events"]
    ] * 2
    assert set(cases["backlog"][0]["rss_mb"]) == {"router", "worker"}
    assert cases["publish"][0]["publish"] > 0 and cases["baseline_publish"][0]["delay"] > 0
    assert set(results["clients"]) >= {"httpx (default transport)", "http.client alone"}
    (one_by_one,) = cases["e2e_producer"]
    assert (one_by_one["deliveries"], one_by_one["duplicates"]) == (sizes["e2e"], 0)
    assert cases["baseline_e2e_producer"][0]["deliveries"] == sizes["baseline_e2e"]
    producer = results["producer"]
    assert {
        "floor: raw socket + hiredis XADD",
        "publish()",
        "Publisher.publish() (background)",
    } <= set(producer)
    assert all(run["events_per_s"] > 0 for runs in producer.values() for run in runs)
    assert "| publish() |" in (tmp_path / "RESULTS-producer.md").read_text()
    api = results["api"]
    assert {"publish(), 1 thread", "POST /v1/events, 1 client"} <= set(api)
    assert all(run["events_per_s"] > 0 for runs in api.values() for run in runs)
    assert (
        "| POST /v1/events/batch (1,000), 1 client |" in (tmp_path / "RESULTS-api.md").read_text()
    )

    report = out.read_text()
    for heading in (
        "## Goals",
        "## Where the CPU goes",
        "## Latency",
        "## A slow destination",
        "## Scale-out",
        "### Routers",
        "## Memory over a backlog",
        "## Machine",
    ):
        assert heading in report

    # Nothing left behind: the database is dropped, the keys deleted.
    server = make_url(POSTGRES_SERVER_URL).set(drivername="postgresql", database="postgres")
    with psycopg.connect(server.render_as_string(hide_password=False)) as conn:
        found = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (env["BENCH_DATABASE"],)
        ).fetchone()
    assert found is None
    client = redis.Redis.from_url(redis_url)
    assert list(client.scan_iter(match=f"*{env['BENCH_KEY_PREFIX']}*")) == []
    client.close()
