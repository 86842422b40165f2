"""The dashboard's silences, users and tokens pages over HTTP on real Postgres and Redis:
each flow through the forms, the service's message by the field, and every change refused
by the server (403) to a role that may not make it, even when the form is forced."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
from sqlalchemy import Engine

from tests.helpers import scalar
from tests.integration.conftest import sign_in


def test_silences_are_added_listed_and_expired_by_a_developer(
    app_client: httpx.Client, clean_db: Engine, tokens: dict[str, str]
) -> None:
    csrf = sign_in(app_client, tokens["developer"])
    page = app_client.get("/silences").text
    assert "Nothing is silenced." in page and 'id="silence-form"' in page
    base = {"csrf_token": csrf, "filter": 'payload.service == "checkout"', "duration": "2h"}
    bad = app_client.post("/silences/new", data={**base, "comment": ""})
    assert bad.status_code == 400 and 'id="error-comment">--comment is required' in bad.text
    bad = app_client.post("/silences/new", data={**base, "filter": "payload.x <", "comment": "x"})
    assert re.search(r'id="error-filter">--filter [^<]*syntax error at column', bad.text)
    bad = app_client.post("/silences/new", data={**base, "duration": "", "comment": "x"})
    assert 'id="error-duration">a silence needs --duration, --until or --every' in bad.text
    bad = app_client.post(
        "/silences/new", data={**base, "duration": "", "until": "2001-01-01T00:00", "comment": "x"}
    )
    assert 'id="error-until">--until 2001-01-01T00:00:00+00:00 is in the past' in bad.text
    assert scalar(clean_db, "SELECT count(*) FROM silences") == 0
    added = app_client.post(
        "/silences/new", data={**base, "comment": "deploying checkout"}, follow_redirects=False
    )
    assert added.status_code == 303
    silence_id = scalar(clean_db, "SELECT id FROM silences")
    assert added.headers["location"] == f"/silences#silence-{silence_id}"
    page = app_client.get("/silences").text
    current = page[page.index('id="current"') : page.index('id="add-silence"')]
    assert "deploying checkout" in current and "payload.service == &#34;checkout&#34;" in current
    later = app_client.post(
        "/silences/new",
        data={
            "csrf_token": csrf,
            "filter": "true",
            "until": "2999-01-01T12:00",
            "tz": "Asia/Tokyo",
            "comment": "until later",
        },
    )
    assert later.status_code == 200
    ends = scalar(clean_db, "SELECT ends_at FROM silences WHERE comment = 'until later'")
    assert ends == datetime(2999, 1, 1, 3, tzinfo=UTC)  # 12:00 in Tokyo
    app_client.post(f"/silences/{silence_id}/expire", data={"csrf_token": csrf})
    assert scalar(clean_db, f"SELECT expired_at IS NOT NULL FROM silences WHERE id = {silence_id}")
    page = app_client.get("/silences").text
    expired = page[page.index('id="expired"') :]
    assert "deploying checkout" in expired and "link expire" not in expired


def test_a_viewer_sees_silences_but_cannot_add_or_expire_one(
    app_client: httpx.Client, clean_db: Engine, tokens: dict[str, str]
) -> None:
    csrf = sign_in(app_client, tokens["developer"])
    app_client.post(
        "/silences/new",
        data={"csrf_token": csrf, "filter": "true", "duration": "1h", "comment": "maintenance"},
    )
    app_client.cookies.clear()
    csrf = sign_in(app_client, tokens["viewer"])
    page = app_client.get("/silences").text
    assert "maintenance" in page
    assert 'id="silence-form"' not in page and "link expire" not in page
    silence_id = scalar(clean_db, "SELECT id FROM silences")
    for path, form in (
        ("/silences/new", {"filter": "true", "duration": "1h", "comment": "forced"}),
        (f"/silences/{silence_id}/expire", {}),
    ):
        answer = app_client.post(path, data={**form, "csrf_token": csrf})
        assert answer.status_code == 403, path
        assert "needs the developer role; this caller is a viewer" in answer.text
    assert scalar(clean_db, "SELECT count(*) FROM silences WHERE expired_at IS NULL") == 1


def test_an_admin_adds_a_user_changes_the_role_and_removes_them(
    app_client: httpx.Client, clean_db: Engine, tokens: dict[str, str]
) -> None:
    csrf = sign_in(app_client, tokens["admin"])
    assert 'href="/users"' in app_client.get("/").text
    page = app_client.get("/users").text
    assert 'id="user-form"' in page and "admin@" not in page.split('id="users"')[0]
    base = {"csrf_token": csrf, "role": "viewer", "name": "Ada"}
    bad = app_client.post("/users/new", data={**base, "email": "ada"})
    assert bad.status_code == 400 and 'id="error-email">&#39;ada&#39; is not an email' in bad.text
    bad = app_client.post("/users/new", data={**base, "email": "ada@example.com", "role": "boss"})
    assert 'id="error-role">unknown role &#39;boss&#39;' in bad.text
    bad = app_client.post(
        "/users/new", data={**base, "email": "ada@example.com", "timezone": "Mars/X"}
    )
    assert 'id="error-timezone">unknown time zone' in bad.text
    added = app_client.post("/users/new", data={**base, "email": "ada@example.com"})
    assert added.status_code == 200 and 'data-user="ada@example.com"' in added.text
    again = app_client.post("/users/new", data={**base, "email": "ada@example.com"})
    assert 'id="error-email">user &#39;ada@example.com&#39; already exists' in again.text
    app_client.post("/users/ada@example.com/role", data={"csrf_token": csrf, "role": "developer"})
    role = "SELECT role FROM users WHERE email = 'ada@example.com'"
    assert scalar(clean_db, role) == "developer"
    confirm = app_client.get("/users/ada@example.com/remove").text
    assert "Their tokens stop working at once." in confirm
    app_client.post("/users/ada@example.com/remove", data={"csrf_token": csrf})
    assert scalar(clean_db, "SELECT count(*) FROM users WHERE email = 'ada@example.com'") == 0


def test_a_token_is_shown_once_listed_by_prefix_and_revoked(
    app_client: httpx.Client, clean_db: Engine, tokens: dict[str, str]
) -> None:
    csrf = sign_in(app_client, tokens["admin"])
    base = {"csrf_token": csrf, "name": "billing producer", "expires_in": "30d"}
    bad = app_client.post("/tokens/new", data=base)
    assert bad.status_code == 400 and "a token is for one user or one service" in bad.text
    bad = app_client.post("/tokens/new", data={**base, "service": "billing", "expires_in": "soon"})
    assert 'id="error-expires_in">bad expiry' in bad.text
    bad = app_client.post("/tokens/new", data={**base, "service": "bad name"})
    assert 'id="error-service">service name &#39;bad name&#39; is invalid' in bad.text
    created = app_client.post("/tokens/new", data={**base, "service": "billing"})
    token = re.search(r'id="token">(er_[A-Za-z0-9_-]+)<', created.text)
    assert token, created.text
    listing = app_client.get("/tokens").text
    assert token.group(1) not in listing and token.group(1)[:15] in listing
    assert "billing producer" in listing
    # The new token works, until it is revoked.
    check = httpx.get(
        f"{app_client.base_url}/v1/channels", headers={"Authorization": f"Bearer {token.group(1)}"}
    )
    assert check.status_code == 200
    token_id = scalar(clean_db, "SELECT id FROM api_tokens WHERE service = 'billing'")
    app_client.post(f"/tokens/{token_id}/revoke", data={"csrf_token": csrf})
    assert 'class="badge bad">revoked' in app_client.get("/tokens").text
    check = httpx.get(
        f"{app_client.base_url}/v1/channels", headers={"Authorization": f"Bearer {token.group(1)}"}
    )
    assert check.status_code == 401


def test_users_and_tokens_are_refused_to_anyone_but_an_admin(
    app_client: httpx.Client, clean_db: Engine, tokens: dict[str, str]
) -> None:
    for role in ("developer", "viewer"):
        app_client.cookies.clear()
        csrf = sign_in(app_client, tokens[role])
        assert 'href="/users"' not in app_client.get("/").text
        for path in ("/users", "/tokens"):
            answer = app_client.get(path)
            assert answer.status_code == 403, (role, path)
        for path, form in (
            ("/users/new", {"email": "eve@example.com", "role": "admin"}),
            ("/users/admin@example.com/role", {"role": "viewer"}),
            ("/users/admin@example.com/remove", {}),
            ("/tokens/new", {"service": "eve", "role": "admin"}),
            ("/tokens/1/revoke", {}),
        ):
            answer = app_client.post(path, data={**form, "csrf_token": csrf})
            assert answer.status_code == 403, (role, path)
            assert f"needs the admin role; this caller is a {role}" in answer.text
    assert scalar(clean_db, "SELECT count(*) FROM users WHERE email = 'eve@example.com'") == 0
    assert scalar(clean_db, "SELECT count(*) FROM api_tokens WHERE service = 'eve'") == 0
