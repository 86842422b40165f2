"""``eventrouter api`` as a real process: a token made with the CLI works over HTTP, and
SIGTERM stops it cleanly."""

from __future__ import annotations

import httpx

from tests.e2e.stack import Stack


def test_the_api_process_serves_what_the_cli_configured(fresh: Stack) -> None:
    fresh.cli("users", "add", "admin@example.com", "--role", "admin")
    token = fresh.cli("tokens", "create", "--user", "admin@example.com").stdout.strip()
    api, url = fresh.start_api("--workers", "2")
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").status_code == 200
        body = {"name": "payments", "pattern": "payment:.*"}
        assert http.post("/v1/channels", json=body).status_code == 201
        assert "payments" in fresh.cli("channels", "list").stdout
        assert http.get("/v1/me").json()["role"] == "admin"
        assert http.get("/v1/me", headers={"Authorization": "Bearer er_x"}).status_code == 401
    assert api.stop(timeout=20) == 0
    assert "Traceback" not in api.output()
