"""Rule fields of subscriptions and the silences resource over HTTP."""

from __future__ import annotations

from tests.integration.conftest import ApiClient


def test_rules_and_silences_over_http(api: ApiClient) -> None:
    admin, developer, viewer = (api.headers(r) for r in ("admin", "developer", "viewer"))
    assert api.http.post(
        "/v1/channels", json={"name": "runs", "pattern": "run:.*"}, headers=admin
    ).is_success
    hook = {"name": "hook", "type": "webhook", "config": {"url": "http://127.0.0.1:9/x"}}
    assert api.http.post("/v1/destinations", json=hook, headers=admin).is_success
    rules = {"filter": "payload.accuracy < 0.9", "notify": "on-change", "key": "payload.exp"}
    sub = {"name": "acc", "channels": ["runs"], "destinations": ["hook"], "rules": rules}
    created = api.http.post("/v1/subscriptions", json=sub, headers=admin)
    assert created.status_code == 201 and created.json()["rules"]["key"] == "payload.exp"
    bad = sub | {"name": "b", "rules": {"filter": "payload.accuracy <"}}
    answer = api.http.post("/v1/subscriptions", json=bad, headers=admin)
    assert answer.status_code == 422 and "syntax error at column" in answer.json()["detail"]
    patched = api.http.patch(
        "/v1/subscriptions/acc", json={"rules": {"resolve": True}}, headers=admin
    ).json()
    assert patched["rules"]["resolve"] is True and patched["rules"]["filter"] == rules["filter"]
    unknown = api.http.patch("/v1/subscriptions/acc", json={"rules": {"nope": 1}}, headers=admin)
    assert unknown.status_code == 422 and "nope" in unknown.json()["detail"]

    silence = {"filter": "true", "duration": "2h", "comment": "maintenance", "channel": "runs"}
    assert api.http.post("/v1/silences", json=silence, headers=viewer).status_code == 403
    made = api.http.post("/v1/silences", json=silence, headers=developer)
    assert made.status_code == 201 and made.json()["active"] is True
    listed = api.http.get("/v1/silences", headers=viewer).json()["items"]
    assert [s["comment"] for s in listed] == ["maintenance"]
    no_end = api.http.post("/v1/silences", json=silence | {"duration": None}, headers=developer)
    assert no_end.status_code == 422 and "--duration" in no_end.json()["detail"]
    silence_id = made.json()["id"]
    assert api.http.delete(f"/v1/silences/{silence_id}", headers=developer).status_code == 204
    assert api.http.get("/v1/silences", headers=viewer).json()["items"] == []
    assert api.http.delete(f"/v1/silences/{silence_id}", headers=developer).status_code == 404


def test_a_destination_name_with_a_nul_byte_is_not_found(api: ApiClient) -> None:
    """Found by the schema fuzz: Postgres text refuses NUL, so it must never reach a query."""
    answer = api.http.get(
        "/v1/deliveries", params={"destination": "\x00"}, headers=api.headers("viewer")
    )
    assert answer.status_code == 404 and "no destination named" in answer.json()["detail"]


def test_a_nul_byte_anywhere_in_a_request_is_a_422_not_a_500(api: ApiClient) -> None:
    """Postgres text and jsonb refuse NUL: whichever field carries it, the caller is told."""
    admin = api.headers("admin")
    sub = {"name": "s", "channels": ["\x00"], "destinations": ["hook"]}
    answer = api.http.post("/v1/subscriptions", json=sub, headers=admin)
    assert answer.status_code == 422, answer.text
    assert "NUL" in answer.json()["detail"]
