"""Notification preferences through the HTTP API on a real server and Postgres: anyone reads
and changes their own, admins everyone's; other roles get 403 for another user's; bad input
is a 422 naming the field and changes nothing."""

from __future__ import annotations

from typing import Any

import httpx

from eventrouter.router.control import Caller, Control
from eventrouter.router.models.configuration import ChannelIn
from eventrouter.router.models.people import TokenIn
from tests.integration.conftest import ApiClient


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def user_id(api: ApiClient, headers: dict[str, str]) -> int:
    return int(api.http.get("/v1/me", headers=headers).json()["user"]["id"])


def problem_field(answer: httpx.Response) -> str:
    assert answer.status_code == 422, answer.text
    body: dict[str, Any] = answer.json()
    return str(body["errors"][0]["name"])


def test_a_viewer_reads_and_changes_only_their_own_preferences(api: ApiClient) -> None:
    Control(api.engine, api.settings, Caller(org="default")).channels.add(
        ChannelIn(name="payments", pattern="payment:.*")
    )
    ana = bearer(api.token("viewer", email="ana@example.com"))
    bo = bearer(api.token("viewer", email="bo@example.com"))

    first = api.http.get("/v1/me/preferences", headers=ana)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["email"] == "ana@example.com" and body["updated_at"] is not None
    assert body["preferences"] == {
        "email_enabled": True,
        "slack_enabled": True,
        "channels": {},
        "email_address": None,
        "slack_target": None,
        "quiet_hours": None,
        "digest": "immediate",
    }

    changed = api.http.put(
        "/v1/me/preferences",
        headers=ana,
        json={
            "slack_enabled": False,
            "channels": {"payments": False},
            "quiet_hours": {"window": "22:00-07:00", "days": "mon-fri"},
            "timezone": "Asia/Tokyo",
        },
    )
    assert changed.status_code == 200, changed.text
    prefs = changed.json()["preferences"]
    assert prefs["slack_enabled"] is False and prefs["email_enabled"] is True
    assert prefs["channels"] == {"payments": False}
    assert prefs["quiet_hours"] == {"window": "22:00-07:00", "days": "mon-fri", "mode": "hold"}
    assert changed.json()["timezone"] == "Asia/Tokyo"
    again = api.http.put("/v1/me/preferences", headers=ana, json={"digest": "daily 08:30"})
    assert again.json()["preferences"] == {**prefs, "digest": "daily 08:30"}

    # Bad input: 422 naming the field, and nothing changes.
    assert (
        problem_field(
            api.http.put("/v1/me/preferences", headers=ana, json={"channels": {"nope": True}})
        )
        == "channels.nope"
    )
    assert (
        problem_field(api.http.put("/v1/me/preferences", headers=ana, json={"timezone": "Mars/X"}))
        == "body.timezone"
    )
    assert (
        problem_field(api.http.put("/v1/me/preferences", headers=ana, json={"sms_enabled": True}))
        == "body.sms_enabled"
    )
    assert (
        problem_field(api.http.put("/v1/me/preferences", headers=ana, json={"digest": "sometimes"}))
        == "body.digest"
    )
    assert api.http.get("/v1/me/preferences", headers=ana).json()["preferences"]["digest"] == (
        "daily 08:30"
    )

    # Another user's preferences are an admin's business only.
    ana_id, bo_id = user_id(api, ana), user_id(api, bo)
    assert api.http.get(f"/v1/users/{ana_id}/preferences", headers=ana).status_code == 200
    assert api.http.get(f"/v1/users/{bo_id}/preferences", headers=ana).status_code == 403
    refused = api.http.put(f"/v1/users/{bo_id}/preferences", headers=ana, json={"digest": "hourly"})
    assert refused.status_code == 403 and "admin" in refused.json()["detail"]
    assert api.http.get("/v1/preferences", headers=ana).status_code == 403
    assert api.http.get("/v1/me/preferences", headers=bo).json()["preferences"]["digest"] == (
        "immediate"
    )


def test_an_admin_reads_everyones_preferences_page_by_page(api: ApiClient) -> None:
    admin = bearer(api.token("admin", email="root@example.com"))
    viewers = [bearer(api.token("viewer", email=f"v{i}@example.com")) for i in range(3)]
    api.http.put("/v1/me/preferences", headers=viewers[1], json={"email_enabled": False})
    v2 = user_id(api, viewers[2])

    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = api.http.get("/v1/preferences", headers=admin, params=params).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [p["email"] for p in seen] == [
        "root@example.com",
        "v0@example.com",
        "v1@example.com",
        "v2@example.com",
    ]
    assert [p["preferences"]["email_enabled"] for p in seen] == [True, True, False, True]
    assert seen[1]["updated_at"] is None  # listing writes nothing

    changed = api.http.put(
        f"/v1/users/{v2}/preferences", headers=admin, json={"slack_target": "C0TEAM"}
    )
    assert changed.status_code == 200, changed.text
    mine = api.http.get("/v1/me/preferences", headers=viewers[2]).json()
    assert mine["preferences"]["slack_target"] == "C0TEAM"
    # Another org's user is not found, and neither is a service token's "me".
    other = user_id(api, bearer(api.token("viewer", org="other")))
    assert api.http.get(f"/v1/users/{other}/preferences", headers=admin).status_code == 404
    service = Control(api.engine, api.settings, Caller(org="default"))
    token = service.tokens.create(TokenIn(service="ci", role="admin")).token
    assert api.http.get("/v1/me/preferences", headers=bearer(token)).status_code == 404
