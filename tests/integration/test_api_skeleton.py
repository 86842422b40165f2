"""The HTTP API's frame: authentication, problem details, body limits, health, OpenAPI,
users, tokens and channels, through a real server on loopback."""

from __future__ import annotations

import redis
from sqlalchemy import text

from eventrouter.router.control import cursor
from tests.integration.conftest import ApiClient

PROBLEM = "application/problem+json"


def test_health_needs_no_token_and_names_nothing_down(api: ApiClient) -> None:
    assert api.http.get("/healthz").json() == {"status": "ok"}
    assert api.http.get("/readyz").json() == {"status": "ok"}
    schema = api.http.get("/openapi.json").json()
    assert "/v1/channels" in schema["paths"] and "HTTPBearer" in str(schema["components"])


def test_readyz_names_what_is_down(api: ApiClient) -> None:
    state = api.app.state.eventrouter
    reachable = state.redis
    state.redis = redis.Redis(port=1, socket_connect_timeout=1)  # nothing listens on port 1
    try:
        answer = api.http.get("/readyz")
    finally:
        state.redis = reachable
    assert answer.status_code == 503 and answer.headers["content-type"] == PROBLEM
    assert "Redis at redis://" in answer.json()["detail"]
    assert "Postgres" not in answer.json()["detail"]


def test_requests_without_a_valid_token_are_401_problems(api: ApiClient) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}):
        answer = api.http.get("/v1/channels", headers=headers)
        assert answer.status_code == 401
        assert answer.headers["content-type"] == PROBLEM
        assert answer.headers["www-authenticate"] == "Bearer"
        problem = answer.json()
        assert problem["status"] == 401 and problem["title"] == "Unauthorized"
        assert "token" in problem["detail"]

    admin = api.headers("admin")
    token_id = api.http.get("/v1/tokens", headers=admin).json()["items"][0]["id"]
    assert api.http.delete(f"/v1/tokens/{token_id}", headers=admin).status_code == 200
    answer = api.http.get("/v1/channels", headers=admin)
    assert answer.status_code == 401 and "revoked" in answer.json()["detail"]


def test_roles_and_orgs_are_enforced_by_the_services(api: ApiClient) -> None:
    viewer, admin = api.headers("viewer"), api.headers("admin")
    other_org = api.headers("admin", org="globex")
    body = {"name": "payments", "pattern": "payment:.*"}

    answer = api.http.post("/v1/channels", json=body, headers=viewer)
    assert answer.status_code == 403 and "needs the admin role" in answer.json()["detail"]
    created = api.http.post("/v1/channels", json=body, headers=admin)
    assert created.status_code == 201 and created.json()["pattern"] == "payment:.*"
    assert api.http.post("/v1/channels", json=body, headers=admin).status_code == 409
    assert api.http.get("/v1/channels/payments", headers=viewer).status_code == 200
    assert api.http.get("/v1/channels/payments", headers=other_org).status_code == 404
    assert api.http.delete("/v1/channels/payments", headers=other_org).status_code == 404
    assert api.http.delete("/v1/channels/payments", headers=viewer).status_code == 403
    assert api.http.delete("/v1/channels/payments", headers=admin).status_code == 204
    assert api.http.get("/v1/users", headers=viewer).status_code == 403


def test_invalid_input_is_a_422_naming_the_field(api: ApiClient) -> None:
    admin = api.headers("admin")
    answer = api.http.post("/v1/channels", json={"name": "x", "pattern": "(("}, headers=admin)
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM
    assert "pattern" in answer.json()["detail"]
    answer = api.http.post("/v1/channels", json={"name": "x", "colour": "red"}, headers=admin)
    problem = answer.json()
    assert answer.status_code == 422
    assert {e["name"] for e in problem["errors"]} == {"body.pattern", "body.colour"}
    answer = api.http.get("/v1/channels?limit=101", headers=admin)
    assert answer.status_code == 422 and answer.json()["errors"][0]["name"] == "query.limit"
    answer = api.http.get("/v1/channels?cursor=garbage", headers=admin)
    assert answer.status_code == 422 and "invalid cursor" in answer.json()["detail"]
    answer = api.http.get("/v1/nothing-here", headers=admin)
    assert answer.status_code == 404 and answer.headers["content-type"] == PROBLEM


def test_hand_made_cursors_are_a_422_not_a_server_error(api: ApiClient) -> None:
    """A cursor is opaque, but a client can still make one: a key of the wrong shape is the
    caller's mistake, answered like any bad input."""
    admin = api.headers("admin")
    crafted = {
        "/v1/deliveries": [cursor.encode(1, 2), cursor.encode("yesterday", 2)],
        "/v1/events": [cursor.encode(1, "01a2"), cursor.encode("2026-12-03T07:00:00", None)],
        "/v1/tokens": [cursor.encode("abc"), cursor.encode(None)],
        "/v1/users": [cursor.encode("abc")],
    }
    for path, bad_cursors in crafted.items():
        for bad in bad_cursors:
            answer = api.http.get(path, params={"cursor": bad}, headers=admin)
            assert answer.status_code == 422, (path, bad, answer.text)
            assert "invalid cursor" in answer.json()["detail"]


def test_bodies_over_the_limit_are_refused_before_parsing(api: ApiClient) -> None:
    admin = api.headers("admin")
    big = b'{"name": "x", "pattern": "' + b"a" * (2 * 1024 * 1024) + b'"}'
    answer = api.http.post("/v1/channels", content=big, headers=admin)
    assert answer.status_code == 413 and answer.headers["content-type"] == PROBLEM

    def chunks() -> object:
        yield b'{"name": "x", "pattern": "'
        for _ in range(40):
            yield b"a" * 65536
        yield b'"}'

    answer = api.http.post("/v1/channels", content=chunks(), headers=admin)  # no length
    assert answer.status_code == 413


def test_users_and_tokens_over_http(api: ApiClient) -> None:
    admin = api.headers("admin")
    answer = api.http.post(
        "/v1/users", json={"email": "dev@example.com", "role": "developer"}, headers=admin
    )
    assert answer.status_code == 201 and answer.json()["role"] == "developer"
    answer = api.http.post("/v1/tokens", json={"user": "dev@example.com"}, headers=admin)
    assert answer.status_code == 201
    token = answer.json()["token"]
    dev = {"Authorization": f"Bearer {token}"}
    me = api.http.get("/v1/me", headers=dev).json()
    assert me["role"] == "developer" and me["user"]["email"] == "dev@example.com"
    listed = api.http.get("/v1/tokens?limit=100", headers=admin).json()["items"]
    assert token not in str(listed) and token[:15] in str(listed)
    answer = api.http.patch("/v1/users/dev@example.com", json={"role": "viewer"}, headers=admin)
    assert answer.json()["role"] == "viewer"
    assert api.http.get("/v1/me", headers=dev).json()["role"] == "viewer"
    service = api.http.post(
        "/v1/tokens", json={"service": "billing", "role": "developer"}, headers=admin
    ).json()
    me = api.http.get("/v1/me", headers={"Authorization": f"Bearer {service['token']}"}).json()
    assert me == {"org": "default", "role": "developer", "user": None}
    assert api.http.delete("/v1/users/dev@example.com", headers=admin).status_code == 204
    assert api.http.get("/v1/me", headers=dev).status_code == 401
    with api.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar() == 1


def test_channel_lists_page_with_a_hard_maximum(api: ApiClient) -> None:
    admin = api.headers("admin")
    for i in range(5):
        body = {"name": f"c{i}", "pattern": f"c{i}:.*"}
        assert api.http.post("/v1/channels", json=body, headers=admin).status_code == 201
    names, cursor = [], None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.http.get("/v1/channels", params=params, headers=admin).json()
        names += [c["name"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    user_channels = [n for n in names if n.startswith("c")]
    assert user_channels == ["c0", "c1", "c2", "c3", "c4"] and len(names) == len(set(names))
