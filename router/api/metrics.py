"""``GET /metrics`` in the Prometheus text format, from the shared counters and the backlog
read at scrape time (``control.metrics``): any API process reports the same figures, so
Prometheus may scrape one or all of them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from starlette.concurrency import run_in_threadpool

from eventrouter.router.api.auth import bearer
from eventrouter.router.api.problems import ERROR_RESPONSES
from eventrouter.router.api.state import app_state
from eventrouter.router.control import metrics
from eventrouter.router.telemetry import DURATION_BUCKETS

router = APIRouter(tags=["health"])


class SnapshotCollector(Collector):
    """One scrape's figures as metric families."""

    def __init__(self, snapshot: metrics.Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        counters = self.snapshot.counters
        events = CounterMetricFamily(
            "eventrouter_events",
            "Events routers took from the stream, by what became of them.",
            labels=["result"],
        )
        for result in ("stored", "duplicate", "rejected"):
            events.add_metric([result], counters.get(f"events|{result}", 0.0))
        yield events
        yield CounterMetricFamily(
            "eventrouter_deliveries_planned",
            "Deliveries routers planned (one per matching event and destination).",
            value=counters.get("deliveries|planned", 0.0),
        )
        finished = CounterMetricFamily(
            "eventrouter_deliveries_finished",
            "Deliveries that reached a final status in a worker, by status and kind.",
            labels=["status", "kind"],
        )
        attempts = CounterMetricFamily(
            "eventrouter_attempts",
            "Delivery attempts by outcome and destination kind.",
            labels=["outcome", "kind"],
        )
        buckets: dict[str, dict[str, float]] = defaultdict(dict)
        sums: dict[str, float] = {}
        for field, value in sorted(counters.items()):
            name, *labels = field.split("|")
            if name == "deliveries" and len(labels) == 2:
                finished.add_metric(labels, value)
            elif name == "attempts" and len(labels) == 2:
                attempts.add_metric(labels, value)
            elif name == "attempt_seconds" and len(labels) == 2:
                buckets[labels[0]][labels[1]] = value
            elif name == "attempt_seconds_sum" and len(labels) == 1:
                sums[labels[0]] = value
        yield finished
        yield attempts
        duration = HistogramMetricFamily(
            "eventrouter_attempt_duration_seconds",
            "How long delivery attempts took, by destination kind.",
            labels=["kind"],
        )
        for kind, counts in sorted(buckets.items()):
            cumulative, total = [], 0.0
            for bound in [*map(repr, DURATION_BUCKETS), "+Inf"]:
                total += counts.get(bound, 0.0)
                cumulative.append((bound, total))
            duration.add_metric([kind], cumulative, sum_value=sums.get(kind, 0.0))
        yield duration

        snapshot = self.snapshot
        yield GaugeMetricFamily(
            "eventrouter_stream_length",
            "Events in the Redis stream not yet stored by a router.",
            value=snapshot.stream_length,
        )
        yield GaugeMetricFamily(
            "eventrouter_stream_pending",
            "Stream entries a router has read but not yet acknowledged.",
            value=snapshot.stream_pending,
        )
        if snapshot.queue_length is not None:
            yield GaugeMetricFamily(
                "eventrouter_celery_queue_length",
                "Delivery tasks waiting in the Celery queue for a worker (scale workers on it).",
                value=snapshot.queue_length,
            )
        backlog = snapshot.backlog
        deliveries = GaugeMetricFamily(
            "eventrouter_deliveries_open",
            "Deliveries not yet final: pending (due now or later) and delivering.",
            labels=["status"],
        )
        deliveries.add_metric(["pending"], backlog.pending)
        deliveries.add_metric(["delivering"], backlog.delivering)
        yield deliveries
        yield GaugeMetricFamily(
            "eventrouter_deliveries_due",
            "Pending deliveries that are due now.",
            value=backlog.due,
        )
        yield GaugeMetricFamily(
            "eventrouter_oldest_due_delivery_age_seconds",
            "How long the oldest due delivery has waited (0 when none is due).",
            value=backlog.oldest_due_seconds,
        )


def exposition(snapshot: metrics.Snapshot) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text format"},
        **{s: ERROR_RESPONSES[s] for s in (401, 403, 503)},
    },
)
async def prometheus_metrics(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Response:
    """Counters, the attempt-duration histogram and the backlog, for Prometheus."""
    state = app_state(request)
    token = credentials.credentials if credentials is not None else None
    await run_in_threadpool(metrics.authorize, state.engine, state.settings, token)
    snapshot = await run_in_threadpool(metrics.snapshot, state.engine, state.settings)
    return Response(exposition(snapshot), media_type=CONTENT_TYPE_LATEST)
