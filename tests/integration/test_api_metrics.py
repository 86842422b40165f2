"""``/metrics``: who may read it, and what a Prometheus parser makes of it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from eventrouter.router import telemetry
from tests.helpers import Seed
from tests.integration.conftest import ApiClient


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_metrics_need_an_admin_or_the_metrics_token(api: ApiClient) -> None:
    assert api.http.get("/metrics").status_code == 401
    answer = api.http.get("/metrics", headers=api.headers("viewer"))
    assert answer.status_code == 403 and "every org" in answer.json()["detail"]
    answer = api.http.get("/metrics", headers=api.headers("admin"))
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")


def test_counters_and_backlog_parse_as_prometheus_metrics(api: ApiClient) -> None:
    seed = Seed(api.engine)
    hook = seed.destination(name="hook")
    for due_in in (-30.0, -5.0, 600.0):
        seed.delivery(seed.event(), hook, due_in=due_in)
    telemetry.add(
        api.settings, telemetry.batch_counts(stored=3, duplicates=1, rejected=0, deliveries=3)
    )
    telemetry.add(
        api.settings,
        telemetry.attempt_counts(
            "webhook", [("succeeded", "succeeded", 40), ("retry", "pending", 3000)]
        ),
    )
    text = api.http.get("/metrics", headers=api.headers("admin")).text
    found = samples(text)
    assert found[("eventrouter_events_total", (("result", "stored"),))] == 3
    assert found[("eventrouter_events_total", (("result", "duplicate"),))] == 1
    assert found[("eventrouter_deliveries_planned_total", ())] == 3
    key = ("eventrouter_attempts_total", (("kind", "webhook"), ("outcome", "retry")))
    assert found[key] == 1
    finished = (
        "eventrouter_deliveries_finished_total",
        (("kind", "webhook"), ("status", "succeeded")),
    )
    assert found[finished] == 1
    bucket = ("eventrouter_attempt_duration_seconds_bucket", (("kind", "webhook"), ("le", "0.05")))
    assert found[bucket] == 1
    inf = ("eventrouter_attempt_duration_seconds_bucket", (("kind", "webhook"), ("le", "+Inf")))
    assert found[inf] == 2
    assert found[("eventrouter_attempt_duration_seconds_count", (("kind", "webhook"),))] == 2
    assert found[("eventrouter_deliveries_open", (("status", "pending"),))] == 3
    assert found[("eventrouter_deliveries_due", ())] == 2
    assert 29 <= found[("eventrouter_oldest_due_delivery_age_seconds", ())] < 120
    assert found[("eventrouter_stream_length", ())] == 0
    assert found[("eventrouter_celery_queue_length", ())] == 0


def test_a_dedicated_metrics_token_or_public_metrics(api: ApiClient) -> None:
    http = api.http  # the server runs in this process, on the fixture's settings object
    api.settings.metrics_token = "scrape-secret-0123456789"
    try:
        bearer = {"Authorization": "Bearer scrape-secret-0123456789"}
        assert http.get("/metrics", headers=bearer).status_code == 200
        assert http.get("/v1/channels", headers=bearer).status_code == 401
        api.settings.metrics_public = True
        assert http.get("/metrics").status_code == 200
    finally:
        api.settings.metrics_token = None
        api.settings.metrics_public = False
