"""Every resource of the HTTP API through a real server on loopback: publishing, the event
and delivery log, retries, destinations (masked, tested, rotated), subscriptions, PATCH."""

from __future__ import annotations

import json

import redis
from sqlalchemy import text

from eventrouter.router.events import MAX_PAYLOAD_BYTES
from tests.helpers import Seed
from tests.integration.conftest import ApiClient
from tests.receiver import Receiver, ok

PROBLEM = "application/problem+json"


def stream_entries(redis_conn: redis.Redis, stream: str) -> list[dict[str, object]]:
    return [
        json.loads(fields[b"e"]) if b"e" in fields else {k.decode(): v for k, v in fields.items()}
        for _, fields in redis_conn.xrange(stream)
    ]


def test_publish_one_and_a_batch_into_the_callers_org(
    api: ApiClient, redis_conn: redis.Redis
) -> None:
    developer = api.headers("developer", org="acme")
    answer = api.http.post(
        "/v1/events",
        json={"name": "payment:failed", "payload": {"amount": 42}, "env": "prod"},
        headers=developer | {"Idempotency-Key": "pay-1"},
    )
    assert answer.status_code == 202, answer.text
    first = answer.json()["id"]
    answer = api.http.post(
        "/v1/events/batch",
        json={"events": [{"name": "job:done", "payload": {"n": i}} for i in range(3)]},
        headers=developer | {"Idempotency-Key": "jobs"},
    )
    assert answer.status_code == 202, answer.text
    ids = answer.json()["ids"]
    assert len(ids) == 3 and first not in ids
    assert redis_conn.xlen(api.settings.stream) == 4
    raw = str([fields for _, fields in redis_conn.xrange(api.settings.stream)])
    assert "acme" in raw and "pay-1" in raw and "jobs:2" in raw

    viewer = api.headers("viewer", org="acme")
    answer = api.http.post("/v1/events", json={"name": "x"}, headers=viewer)
    assert answer.status_code == 403 and "developer" in answer.json()["detail"]


def test_publish_refuses_what_publish_refuses(api: ApiClient, redis_conn: redis.Redis) -> None:
    developer = api.headers("developer")
    for body, status, words in [
        ({"name": "bad name!"}, 422, "name"),
        ({"name": "x", "payload": [1]}, 422, "payload"),
        ({"name": "x", "org": "other"}, 422, "org"),
        ({"name": "x", "payload": {"k": "v" * (MAX_PAYLOAD_BYTES + 1)}}, 413, "256 KiB"),
    ]:
        answer = api.http.post("/v1/events", json=body, headers=developer)
        assert answer.status_code == status, (body, answer.text)
        assert answer.headers["content-type"] == PROBLEM and words in answer.text
    batch = {"events": [{"name": "ok"}, {"name": "bad name!"}]}
    answer = api.http.post("/v1/events/batch", json=batch, headers=developer)
    assert answer.status_code == 422 and "event #1" in answer.json()["detail"]
    batch = {"events": [{"name": "ok"}] * 1001}
    answer = api.http.post("/v1/events/batch", json=batch, headers=developer)
    assert answer.status_code == 422 and answer.json()["errors"][0]["name"] == "body.events"
    batch = {"events": [{"name": "x", "payload": {"k": "v" * (MAX_PAYLOAD_BYTES + 1)}}]}
    answer = api.http.post("/v1/events/batch", json=batch, headers=developer)
    assert answer.status_code == 413
    answer = api.http.post(
        "/v1/events",
        json={"name": "x", "idempotency_key": "a"},
        headers=developer | {"Idempotency-Key": "b"},
    )
    assert answer.status_code == 422 and "differ" in answer.json()["detail"]
    assert redis_conn.xlen(api.settings.stream) == 0  # nothing half-published


def test_the_event_and_delivery_log_with_retries(api: ApiClient, clean_db: object) -> None:
    seed = Seed(api.engine)
    hook = seed.destination(name="hook")
    mine = seed.event("payment:failed", {"amount": 1})
    theirs = seed.event("payment:failed", org="globex")
    failed = seed.delivery(mine, hook, status="failed", attempt_count=3)
    seed.delivery(seed.event("job:done"), hook, status="succeeded", attempt_count=1)
    with api.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at, "
                "duration_ms, outcome, http_status, error) "
                "VALUES (:id, 1, now(), 12, 'failed', 404, 'HTTP 404')"
            ),
            {"id": failed},
        )
    viewer, developer = api.headers("viewer"), api.headers("developer")

    page = api.http.get("/v1/events", params={"status": "failed"}, headers=viewer).json()
    assert [e["id"] for e in page["items"]] == [mine] and page["items"][0]["failed"] == 1
    page = api.http.get("/v1/events", params={"name": "job:.*"}, headers=viewer).json()
    assert [e["name"] for e in page["items"]] == ["job:done"]
    detail = api.http.get(f"/v1/events/{mine}", headers=viewer).json()
    assert detail["payload"] == {"amount": 1}
    attempt = detail["deliveries"][0]["attempts"][0]
    assert attempt["http_status"] == 404 and attempt["duration_ms"] == 12
    assert api.http.get(f"/v1/events/{theirs}", headers=viewer).status_code == 404
    assert api.http.get("/v1/events/not-a-uuid", headers=viewer).status_code == 422

    log = api.http.get("/v1/deliveries", params={"status": "failed"}, headers=viewer).json()
    assert [d["id"] for d in log["items"]] == [failed]
    one = api.http.get(f"/v1/deliveries/{failed}", headers=viewer).json()
    assert one["event_id"] == mine and one["attempts"][0]["error"] == "HTTP 404"
    assert api.http.post(f"/v1/deliveries/{failed}/retry", headers=viewer).status_code == 403
    answer = api.http.post(f"/v1/deliveries/{failed}/retry", headers=developer)
    assert answer.json() == {"retried": 1}
    answer = api.http.post(f"/v1/deliveries/{failed}/retry", headers=developer)
    assert answer.status_code == 422 and "only failed or cancelled" in answer.json()["detail"]
    with api.engine.begin() as conn:
        conn.execute(text("UPDATE deliveries SET status = 'failed' WHERE id = :id"), {"id": failed})
    body = {"status": "failed", "destination": "hook", "since": "1h"}
    assert api.http.post("/v1/deliveries/retry", json=body, headers=developer).json() == {
        "retried": 1
    }
    for bad in ({"since": "soon"}, {"destination": "nope"}, {"status": "succeeded"}):
        answer = api.http.post("/v1/deliveries/retry", json=bad, headers=developer)
        assert answer.status_code in (404, 422), (bad, answer.text)


def test_history_patterns_are_checked_with_re2(api: ApiClient) -> None:
    viewer = api.headers("viewer")
    for pattern in ["(a)\\1", "(?=x)", "(((", "a" * 1001]:
        answer = api.http.get("/v1/events", params={"name": pattern}, headers=viewer)
        assert answer.status_code == 422, (pattern, answer.text)


def test_destinations_are_masked_tested_patched_and_rotated(api: ApiClient) -> None:
    admin, developer, viewer = api.headers("admin"), api.headers("developer"), api.headers("viewer")
    with Receiver(ok()) as receiver:
        body = {
            "name": "hook",
            "type": "webhook",
            "config": {"url": receiver.url_for("/hook?token=s3cr3t-value")},
            "generate_secret": True,
        }
        created = api.http.post("/v1/destinations", json=body, headers=admin)
        assert created.status_code == 201, created.text
        assert created.json()["signing_secret"].startswith("whsec_")
        shown = api.http.get("/v1/destinations/hook", headers=viewer).json()
        assert "s3cr3t-value" not in json.dumps(shown) and shown["signing_secret"] is None
        assert api.http.post("/v1/destinations", json=body, headers=admin).status_code == 409

        test = api.http.post("/v1/destinations/hook/test", headers=developer)
        assert test.status_code == 200, test.text
        result = test.json()
        assert result["succeeded"] and result["http_status"] == 200
        assert "succeeded (HTTP 200" in result["message"] and receiver.count() == 1

        rotated = api.http.post(
            "/v1/destinations/hook/rotate-secret", json={"grace": "1h"}, headers=admin
        )
        assert rotated.status_code == 200 and rotated.json()["secret"].startswith("whsec_")
        patched = api.http.patch(
            "/v1/destinations/hook", json={"enabled": False, "retry_schedule": "1s"}, headers=admin
        ).json()
        assert patched["enabled"] is False and patched["retry_schedule"] == "1s"
        answer = api.http.post("/v1/destinations/hook/test", headers=developer)
        assert answer.status_code == 422 and "disabled" in answer.json()["detail"]

    bad = {"name": "bad", "type": "webhook", "config": {"url": "not a url"}}
    answer = api.http.post("/v1/destinations", json=bad, headers=admin)
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM
    bad = {"name": "bad", "type": "carrier-pigeon", "config": {}}
    assert api.http.post("/v1/destinations", json=bad, headers=admin).status_code == 422
    answer = api.http.patch("/v1/destinations/hook", json={"retry_schedule": "0s"}, headers=admin)
    assert answer.status_code == 422
    assert api.http.get("/v1/destinations/hook", headers=viewer).json()["retry_schedule"] == "1s"
    answer = api.http.delete("/v1/destinations/hook", headers=admin)
    assert answer.status_code == 200 and answer.json() == {"detached_from": []}
    assert api.http.get("/v1/destinations/hook", headers=viewer).status_code == 404


def test_subscriptions_and_channel_changes(api: ApiClient) -> None:
    admin, viewer = api.headers("admin"), api.headers("viewer")
    for body in (
        {"name": "pay", "pattern": "payment:.*"},
        {"name": "jobs", "pattern": "job:.*"},
    ):
        assert api.http.post("/v1/channels", json=body, headers=admin).status_code == 201
    body = {"name": "hook", "type": "webhook", "config": {"url": "http://127.0.0.1:9/x"}}
    assert api.http.post("/v1/destinations", json=body, headers=admin).status_code == 201
    sub = {"name": "s", "channels": ["pay"], "destinations": ["hook"], "env": "prod"}
    created = api.http.post("/v1/subscriptions", json=sub, headers=admin)
    assert created.status_code == 201 and created.json()["channels"] == ["pay"]
    unknown = sub | {"name": "t", "channels": ["nope"]}
    answer = api.http.post("/v1/subscriptions", json=unknown, headers=admin)
    assert answer.status_code == 404 and "nope" in answer.json()["detail"]

    patched = api.http.patch(
        "/v1/subscriptions/s", json={"add_channels": ["jobs"], "enabled": False}, headers=admin
    ).json()
    assert sorted(patched["channels"]) == ["jobs", "pay"] and patched["enabled"] is False
    assert api.http.patch("/v1/subscriptions/s", json={}, headers=viewer).status_code == 403
    channel = api.http.patch(
        "/v1/channels/pay", json={"pattern": "payment:(failed|refunded)"}, headers=admin
    ).json()
    assert channel["pattern"] == "payment:(failed|refunded)"
    system = api.http.get("/v1/channels", headers=viewer).json()["items"][0]
    assert system["is_system"]
    answer = api.http.patch(f"/v1/channels/{system['name']}", json={}, headers=admin)
    assert answer.status_code == 422 and "read-only" in answer.json()["detail"]
    answer = api.http.delete("/v1/destinations/hook", headers=admin)
    assert answer.status_code == 422 and "used by subscription" in answer.json()["detail"]
    answer = api.http.delete("/v1/destinations/hook", params={"force": True}, headers=admin)
    assert answer.json() == {"detached_from": ["s"]}
    assert api.http.delete("/v1/subscriptions/s", headers=admin).status_code == 204
    assert api.http.get("/v1/subscriptions", headers=viewer).json()["items"] == []
