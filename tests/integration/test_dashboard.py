"""The dashboard over HTTP on real Postgres and Redis: sign-in, CSRF, roles refused by the
server (not only hidden), forms that put the service's message next to the field, escaping,
org isolation."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

import httpx
from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from eventrouter.router.api.app import create_app
from eventrouter.router.control import Caller, Control
from eventrouter.router.models.configuration import ChannelIn
from eventrouter.router.settings import Settings
from tests.helpers import Seed, scalar
from tests.integration.conftest import ApiClient, csrf_of, sign_in


def test_without_a_session_every_page_redirects_to_sign_in(app_client: httpx.Client) -> None:
    cookie = app_client.get("/signin").headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    app_client.cookies.clear()
    behind_tls = app_client.get("/signin", headers={"X-Forwarded-Proto": "https"})
    assert "secure" in behind_tls.headers["set-cookie"].lower()
    app_client.cookies.clear()
    for path in ("/", "/destinations", "/events?status=failed", "/channels/new"):
        answer = app_client.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/signin?next=")


def test_a_bad_token_is_refused_in_plain_words(app_client: httpx.Client) -> None:
    page = app_client.get("/signin")
    answer = app_client.post("/signin", data={"token": "nope", "csrf_token": csrf_of(page.text)})
    assert answer.status_code == 401
    assert "That token does not work: malformed token" in answer.text
    unknown = app_client.post(
        "/signin", data={"token": "er_" + "0" * 12 + "x" * 43, "csrf_token": csrf_of(page.text)}
    )
    assert "That token does not work: unknown token" in unknown.text
    assert app_client.get("/", follow_redirects=False).status_code == 303


def test_sign_in_goes_back_where_the_person_was_and_never_off_site(
    app_client: httpx.Client, tokens: dict[str, str]
) -> None:
    page = app_client.get("/signin?next=/channels")
    token = csrf_of(page.text)
    answer = app_client.post(
        "/signin",
        data={"token": tokens["admin"], "next": "https://evil.example/", "csrf_token": token},
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"
    assert "acme" in app_client.get("/").text


def test_a_state_change_without_the_csrf_token_is_refused(
    app_client: httpx.Client, clean_db: Engine, tokens: dict[str, str]
) -> None:
    csrf = sign_in(app_client, tokens["admin"])
    form = {"name": "pay", "pattern": "payment:.*"}
    refused = app_client.post("/channels/new", data=form)
    assert refused.status_code == 403
    assert "nothing was changed" in refused.text
    forged = app_client.post("/channels/new", data={**form, "csrf_token": "x" * 43})
    assert forged.status_code == 403
    assert scalar(clean_db, "SELECT count(*) FROM channels WHERE name = 'pay'") == 0
    added = app_client.post("/channels/new", data={**form, "csrf_token": csrf})
    assert added.status_code == 200 and "payment:.*" in added.text
    # Signing out changes the token: a form from before no longer works.
    app_client.post("/signout", data={"csrf_token": csrf})
    sign_in(app_client, tokens["admin"])
    stale = app_client.post("/channels/new", data={"name": "x", "pattern": "x", "csrf_token": csrf})
    assert stale.status_code == 403


def test_a_viewer_sees_no_edit_controls_and_the_server_refuses_them(
    app_client: httpx.Client, seed: Seed, clean_db: Engine, tokens: dict[str, str]
) -> None:
    seed.destination(org="acme", name="hook")
    csrf = sign_in(app_client, tokens["viewer"])
    for path in ("/destinations", "/destinations/hook", "/subscriptions", "/channels"):
        html = app_client.get(path).text
        assert "Add destination" not in html and "Remove…" not in html
        assert "Disable" not in html and "Send test" not in html
    for path, form in (
        ("/destinations/new", {"type": "webhook", "name": "x", "url": "http://127.0.0.1:9/"}),
        ("/destinations/hook/disable", {}),
        ("/destinations/hook/remove", {}),
        ("/channels/new", {"name": "c", "pattern": "a"}),
    ):
        answer = app_client.post(path, data={**form, "csrf_token": csrf})
        assert answer.status_code == 403, path
        assert "needs the admin role; this caller is a viewer" in answer.text
    assert scalar(clean_db, "SELECT enabled FROM destinations WHERE name = 'hook'") is True


def test_the_destination_form_shows_the_cli_message_next_to_the_field(
    app_client: httpx.Client, clean_db: Engine, tokens: dict[str, str]
) -> None:
    csrf = sign_in(app_client, tokens["admin"])
    form = app_client.get("/destinations/new?type=email").text
    for field in ('name="from_address"', 'name="to"', 'name="smtp_host"', 'name="password"'):
        assert field in form
    assert 'name="url"' not in form  # a webhook's field is not on the email form
    base = {"csrf_token": csrf, "type": "webhook", "name": "ops"}
    missing = app_client.post("/destinations/new", data=base)
    assert missing.status_code == 400
    assert re.search(r'id="error-url">a webhook destination needs --url<', missing.text)
    bad = app_client.post("/destinations/new", data={**base, "url": "ftp://x", "timeout": "soon"})
    assert re.search(r'id="error-timeout">--timeout: &#39;soon&#39; is not a number<', bad.text)
    bad = app_client.post("/destinations/new", data={**base, "url": "ftp://x"})
    assert re.search(r'id="error-url">invalid webhook destination url: [^<]+<', bad.text)
    assert 'value="ftp://x"' in bad.text  # what was typed stays in the form
    bad = app_client.post(
        "/destinations/new",
        data={**base, "url": "http://127.0.0.1:9/", "retry_schedule": "1s,forever"},
    )
    assert 'id="error-retry_schedule">bad retry schedule' in bad.text
    created = app_client.post(
        "/destinations/new",
        data={**base, "url": "http://127.0.0.1:9/", "headers": "X-Team: ops\nX-Env: prod"},
        follow_redirects=False,
    )
    assert created.status_code == 303 and created.headers["location"] == "/destinations/ops"
    page = app_client.get("/destinations/ops").text
    assert "X-Team" in page and "enabled" in page
    taken = app_client.post("/destinations/new", data={**base, "url": "http://127.0.0.1:9/"})
    assert 'id="error-name">destination &#39;ops&#39; already exists' in taken.text
    template = app_client.post(
        "/destinations/new",
        data={**base, "name": "t", "url": "http://127.0.0.1:9/", "template": "@/etc/passwd"},
    )
    assert 'id="error-template">--template: paste the template itself' in template.text
    assert scalar(clean_db, "SELECT count(*) FROM destinations") == 1


def test_a_generated_signing_secret_is_shown_once(
    app_client: httpx.Client, tokens: dict[str, str]
) -> None:
    csrf = sign_in(app_client, tokens["admin"])
    shown = app_client.post(
        "/destinations/new",
        data={
            "csrf_token": csrf,
            "type": "webhook",
            "name": "signed",
            "url": "http://127.0.0.1:9/",
            "generate_secret": "on",
        },
    )
    secret = re.search(r'id="secret">(whsec_[^<]+)<', shown.text)
    assert secret
    assert secret.group(1) not in app_client.get("/destinations/signed").text
    rotated = app_client.post("/destinations/signed/rotate-secret", data={"csrf_token": csrf})
    new = re.search(r'id="secret">(whsec_[^<]+)<', rotated.text)
    assert new and new.group(1) != secret.group(1)
    assert "co-signs until" in rotated.text


def test_html_in_event_names_and_payloads_renders_as_text(
    app_client: httpx.Client, seed: Seed, tokens: dict[str, str]
) -> None:
    event_id = seed.event(
        "alert:x", {"message": "<script>alert(1)</script>", "<b>key</b>": 1}, org="acme"
    )
    sign_in(app_client, tokens["viewer"])
    for path in (f"/events/{event_id}", "/events"):
        html = app_client.get(path).text
        assert "<script>alert(1)" not in html and "<b>key" not in html
    html = app_client.get(f"/events/{event_id}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "default-src 'self'" in app_client.get("/events").headers["content-security-policy"]


def test_another_orgs_events_and_objects_are_not_reachable_by_url(
    app_client: httpx.Client, seed: Seed, tokens: dict[str, str]
) -> None:
    event_id = seed.event("payment:failed", org="acme")
    seed.destination(org="acme", name="acme-hook")
    sign_in(app_client, tokens["globex"])
    for path in (f"/events/{event_id}", "/destinations/acme-hook"):
        answer = app_client.get(path)
        assert answer.status_code == 404, path
        assert "Not found" in answer.text
    assert event_id not in app_client.get("/events").text
    assert app_client.get("/no/such/page").status_code == 404


def test_history_detail_shows_every_attempt_and_retry_puts_it_back(
    app_client: httpx.Client, seed: Seed, clean_db: Engine, tokens: dict[str, str]
) -> None:
    destination_id = seed.destination(org="acme", name="hook")
    event_id = seed.event("payment:failed", {"invoice": "in_1"}, org="acme")
    delivery_id = seed.delivery(event_id, destination_id, status="failed", attempt_count=1)
    with clean_db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at,"
                " duration_ms, outcome, http_status, error, response_body)"
                " VALUES (:d, 1, now(), 12, 'failed', 422, 'HTTP 422 from receiver', 'bad')"
            ),
            {"d": delivery_id},
        )
    csrf = sign_in(app_client, tokens["developer"])
    listing = app_client.get("/events?status=failed").text
    assert event_id in listing
    page = app_client.get(f"/events/{event_id}").text
    assert "HTTP 422 from receiver" in page and ">422<" in page
    assert "&#34;invoice&#34;: &#34;in_1&#34;" in page
    assert "data-refresh" not in page  # nothing open: no auto-refresh
    back = app_client.post(
        f"/deliveries/{delivery_id}/retry",
        data={"csrf_token": csrf, "back": f"/events/{event_id}"},
        follow_redirects=False,
    )
    assert back.headers["location"] == f"/events/{event_id}"
    assert scalar(clean_db, "SELECT status FROM deliveries") == "pending"
    assert 'data-refresh="2"' in app_client.get(f"/events/{event_id}").text
    assert app_client.get("/events?status=nonsense").status_code == 400


def test_overview_draws_the_last_hour_and_each_destinations_health(
    app_client: httpx.Client, seed: Seed, clean_db: Engine, tokens: dict[str, str]
) -> None:
    destination_id = seed.destination(org="acme", name="hook")
    event_id = seed.event(org="acme")
    delivery_id = seed.delivery(event_id, destination_id, status="pending")
    with clean_db.begin() as conn:
        for outcome, ms, error in (("succeeded", 100, None), ("retry", 900, "HTTP 503")):
            conn.execute(
                text(
                    "INSERT INTO delivery_attempts (delivery_id, attempt_number, started_at,"
                    " duration_ms, outcome, error) VALUES (:d, 1, now(), :ms, :o, :e)"
                ),
                {"d": delivery_id, "ms": ms, "o": outcome, "e": error},
            )
    sign_in(app_client, tokens["viewer"])
    html = app_client.get("/").text
    assert "1 succeeded and 1 failed attempts in the last 60 minutes" in html
    assert "<svg" in html and 'class="bad"' in html
    assert "50.0 %" in html and "HTTP 503" in html
    assert re.search(r"<dt>Pending</dt><dd>1</dd>", html)


def test_the_pattern_tester_matches_as_the_router_does(
    app_client: httpx.Client, tokens: dict[str, str]
) -> None:
    sign_in(app_client, tokens["viewer"])
    fragment = app_client.get(
        "/channels/pattern-test",
        params={"pattern": "payment:.*", "names": "payment:failed\npayment\nx:payment:y"},
    ).text
    assert re.search(r'class="match"><span class="mono">payment:failed', fragment)
    assert re.search(r'class="nomatch"><span class="mono">payment<', fragment)
    assert re.search(r'class="nomatch"><span class="mono">x:payment:y<', fragment)
    bad = app_client.get("/channels/pattern-test", params={"pattern": "(", "names": "a"}).text
    assert "invalid pattern" in bad


def test_edits_go_through_the_update_services(
    app_client: httpx.Client, clean_db: Engine, tokens: dict[str, str]
) -> None:
    csrf = sign_in(app_client, tokens["admin"])
    app_client.post(
        "/destinations/new",
        data={
            "csrf_token": csrf,
            "type": "webhook",
            "name": "hook",
            "url": "http://127.0.0.1:9/a",
            "secret": "whsec_" + "A" * 32,
        },
    )
    form = app_client.get("/destinations/hook/edit").text
    assert 'value="http://127.0.0.1:9/a"' in form and "whsec_AAAA" not in form
    bad = app_client.post("/destinations/hook/edit", data={"csrf_token": csrf, "url": "nope"})
    assert bad.status_code == 400 and 'id="error-url">invalid webhook destination url' in bad.text
    saved = app_client.post(
        "/destinations/hook/edit",
        data={"csrf_token": csrf, "url": "http://127.0.0.1:9/b", "retry_schedule": "2s,4s"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    page = app_client.get("/destinations/hook").text
    assert "http://127.0.0.1:9/b" in page and "2s,4s" in page and "(signed)" in page

    app_client.post("/channels/new", data={"csrf_token": csrf, "name": "pay", "pattern": "pay:.*"})
    app_client.post("/channels/new", data={"csrf_token": csrf, "name": "ops", "pattern": "ops:.*"})
    edited = app_client.post(
        "/channels/pay/edit",
        data={"csrf_token": csrf, "pattern": "payment:.*", "description": "payments"},
        follow_redirects=False,
    )
    assert edited.status_code == 303
    assert "payment:.*" in app_client.get("/channels").text
    app_client.post(
        "/subscriptions/new",
        data={"csrf_token": csrf, "name": "s", "channels": "pay", "destinations": "hook"},
    )
    empty = app_client.post(
        "/subscriptions/s/edit", data={"csrf_token": csrf, "destinations": "hook"}
    )
    assert 'id="error-channels"' in empty.text
    app_client.post(
        "/subscriptions/s/edit",
        data={
            "csrf_token": csrf,
            "channels": ["pay", "ops"],
            "destinations": "hook",
            "env": "production",
        },
    )
    row = app_client.get("/subscriptions").text
    assert re.search(r"<td>(pay, ops|ops, pay)</td>", row) and "production" in row
    assert scalar(clean_db, "SELECT count(*) FROM subscription_channels") == 2


def test_times_follow_the_users_time_zone(
    app_client: httpx.Client, seed: Seed, clean_db: Engine, tokens: dict[str, str]
) -> None:
    event_id = seed.event(org="acme")
    csrf = sign_in(app_client, tokens["viewer"])
    utc = app_client.get(f"/events/{event_id}").text
    assert "data-tz" not in utc and " UTC</time>" in utc  # the browser's zone, by script
    bad = app_client.post("/settings", data={"csrf_token": csrf, "timezone": "Mars/Olympus"})
    assert bad.status_code == 400 and "unknown time zone &#39;Mars/Olympus&#39;" in bad.text
    app_client.post("/settings", data={"csrf_token": csrf, "timezone": "Asia/Kolkata"})
    assert scalar(clean_db, "SELECT timezone FROM users WHERE role = 'viewer'") == "Asia/Kolkata"
    received = scalar(clean_db, "SELECT received_at FROM events")
    local = received.astimezone(ZoneInfo("Asia/Kolkata"))
    shown = app_client.get(f"/events/{event_id}").text
    assert 'data-tz="Asia/Kolkata"' in shown and f"{local:%Y-%m-%d %H:%M:%S}</time>" in shown
    app_client.cookies.clear()  # a new session starts in the zone kept with the user
    sign_in(app_client, tokens["viewer"])
    assert 'data-tz="Asia/Kolkata"' in app_client.get("/events").text


def test_routes_added_to_the_api_after_the_dashboard_still_answer(
    clean_db: Engine, settings: Settings
) -> None:
    app = create_app(settings, engine=clean_db)
    later = APIRouter()

    @later.get("/slack/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    app.include_router(later)
    with TestClient(app, follow_redirects=False) as client:
        assert client.get("/slack/ping").json() == {"pong": "yes"}
        assert client.get("/").headers["location"] == "/signin?next=%2F"
        assert client.get("/static/app.css").status_code == 200
        missing = client.get("/v1/nothing-here")
        assert missing.headers["content-type"] == "application/problem+json"
        assert client.delete("/v1/channels").status_code == 405


def test_my_notifications_page_saves_my_choices_and_admins_see_everyones(
    app_client: httpx.Client, api: ApiClient, tokens: dict[str, str]
) -> None:
    Control(api.engine, api.settings, Caller(org="acme")).channels.add(
        ChannelIn(name="payments", pattern="payment:.*")
    )
    csrf = sign_in(app_client, tokens["viewer"])
    page = app_client.get("/notifications")
    assert page.status_code == 200 and 'name="channel:payments" checked' in page.text
    form = {
        "csrf_token": csrf,
        "email_enabled": "on",
        "quiet_window": "22:00-07:00",
        "quiet_days": "mon-fri",
        "quiet_mode": "drop",
        "timezone": "Asia/Tokyo",
        "digest": "hourly",
    }
    saved = app_client.post("/notifications", data=form)
    assert saved.status_code == 200 and 'id="saved"' in saved.text, saved.text
    assert 'name="channel:payments" >' in saved.text  # unticked: opted out
    assert "<option selected>Asia/Tokyo</option>" in saved.text
    forged = app_client.post("/notifications", data={**form, "csrf_token": "x" * 43})
    assert forged.status_code == 403
    bad = app_client.post("/notifications", data={**form, "digest": "weekly"})
    assert bad.status_code == 400 and "digest: &#39;weekly&#39;" in bad.text
    assert app_client.get("/notifications/everyone").status_code == 403

    sign_in(app_client, tokens["admin"])
    everyone = app_client.get("/notifications/everyone")
    assert everyone.status_code == 200
    assert "22:00-07:00 mon-fri (Asia/Tokyo), drop" in everyone.text
    assert "payments" in everyone.text and "hourly" in everyone.text


def test_subscription_rules_are_set_on_the_form_with_the_services_messages(
    app_client: httpx.Client, seed: Seed, clean_db: Engine, tokens: dict[str, str]
) -> None:
    seed.destination(org="acme", name="hook")
    csrf = sign_in(app_client, tokens["admin"])
    app_client.post("/channels/new", data={"csrf_token": csrf, "name": "ml", "pattern": "run:.*"})
    form = app_client.get("/subscriptions/new").text
    for field in ("filter", "notify", "key", "resolve", "for_count", "group_by", "group_wait"):
        assert f'name="{field}"' in form, field
    for field in ("repeat_interval", "quiet_hours", "timezone", "quiet_days", "quiet_mode"):
        assert f'name="{field}"' in form, field
    base = {"csrf_token": csrf, "name": "acc", "channels": "ml", "destinations": "hook"}
    bad = app_client.post("/subscriptions/new", data={**base, "filter": "payload.accuracy <"})
    assert bad.status_code == 400
    assert re.search(r'id="error-filter">--filter [^<]*syntax error at column 19', bad.text)
    assert "payload.accuracy &lt;</textarea>" in bad.text  # what was typed stays
    assert f'id="caret-filter">payload.accuracy &lt;\n{" " * 18}^</pre>' in bad.text
    bad = app_client.post(
        "/subscriptions/new", data={**base, "quiet_hours": "23:00-07:00", "timezone": "Mars/X"}
    )
    assert re.search(r'id="error-timezone">--timezone: unknown time zone', bad.text)
    bad = app_client.post("/subscriptions/new", data={**base, "resolve": "on"})
    assert 'id="error-resolve">--resolve and --for need --notify on-change' in bad.text
    bad = app_client.post("/subscriptions/new", data={**base, "for_count": "three"})
    assert 'id="error-for_count">rules: for_count: Input should be a valid integer' in bad.text
    assert scalar(clean_db, "SELECT count(*) FROM subscriptions") == 0
    rules = {
        "filter": "payload.accuracy < 0.9",
        "notify": "on-change",
        "key": "payload.experiment",
        "resolve": "on",
        "for_count": "2",
        "quiet_hours": "23:00-07:00",
        "timezone": "America/New_York",
        "urgent": 'payload.severity == "critical"',
    }
    added = app_client.post("/subscriptions/new", data={**base, **rules}, follow_redirects=False)
    assert added.status_code == 303, added.text
    stored = scalar(clean_db, "SELECT rules FROM subscriptions WHERE name = 'acc'")
    assert stored["filter"] == "payload.accuracy < 0.9" and stored["for_count"] == 2
    assert stored["resolve"] is True and stored["timezone"] == "America/New_York"
    listing = app_client.get("/subscriptions").text
    assert "--notify on-change" in listing and "--resolve" in listing
    edit = app_client.get("/subscriptions/acc/edit").text
    assert 'value="payload.experiment"' not in edit  # a CEL field is a textarea
    assert ">payload.experiment</textarea>" in edit and "<option selected>on-change" in edit
    # Saving the form replaces the rules: what was cleared is gone.
    edited = {**rules, "resolve": "", "quiet_hours": "", "timezone": "", "urgent": ""}
    app_client.post("/subscriptions/acc/edit", data={**base, **edited})
    stored = scalar(clean_db, "SELECT rules FROM subscriptions WHERE name = 'acc'")
    assert stored == {
        "filter": "payload.accuracy < 0.9",
        "notify": "on-change",
        "key": "payload.experiment",
        "for_count": 2,
    }
    cleared = {**base, "notify": "", "key": "", "for_count": "", "filter": ""}
    app_client.post("/subscriptions/acc/edit", data=cleared)
    assert scalar(clean_db, "SELECT rules FROM subscriptions WHERE name = 'acc'") is None


def test_subscription_people_are_set_on_the_form_with_the_clis_messages(
    app_client: httpx.Client, seed: Seed, clean_db: Engine, tokens: dict[str, str]
) -> None:
    seed.destination(org="acme", name="hook")
    csrf = sign_in(app_client, tokens["admin"])
    app_client.post("/channels/new", data={"csrf_token": csrf, "name": "sec", "pattern": "sec:.*"})
    form = app_client.get("/subscriptions/new").text
    assert 'name="users"' in form and 'type="checkbox" id="mandatory" name="mandatory"' in form
    base = {"csrf_token": csrf, "name": "incidents", "channels": "sec"}
    bad = app_client.post("/subscriptions/new", data={**base, "users": "role:boss"})
    assert bad.status_code == 400
    assert (
        'id="error-users">unknown role &#39;boss&#39; in --users; '
        "use role:viewer|role:developer|role:admin" in bad.text
    )
    assert 'value="role:boss"' in bad.text  # what was typed stays
    bad = app_client.post("/subscriptions/new", data={**base, "users": "zed@example.com"})
    assert (
        'id="error-users">no user &#39;zed@example.com&#39;; see &#39;eventrouter users list&#39;'
        in bad.text
    )
    bad = app_client.post("/subscriptions/new", data={**base, "mandatory": "on"})
    assert (
        'id="error-destinations">a subscription needs at least one --destination or --users'
        in bad.text
    )
    assert 'id="mandatory" name="mandatory" checked' in bad.text
    assert scalar(clean_db, "SELECT count(*) FROM subscriptions") == 0
    added = app_client.post(
        "/subscriptions/new",
        data={**base, "users": "Role:Admin, role:developer", "mandatory": "on"},
        follow_redirects=False,
    )
    assert added.status_code == 303, added.text
    stored = "SELECT users, mandatory FROM subscriptions WHERE name = 'incidents'"
    with clean_db.connect() as conn:
        assert tuple(conn.execute(text(stored)).one()) == ("role:developer,role:admin", True)
    listing = app_client.get("/subscriptions").text
    assert '<code>role:developer,role:admin</code> <span class="badge">mandatory' in listing
    edit = app_client.get("/subscriptions/incidents/edit").text
    assert 'value="role:developer,role:admin"' in edit and 'name="mandatory" checked' in edit
    # Saving the form replaces the people: blank is --no-users, unticked is not mandatory.
    saved = app_client.post(
        "/subscriptions/incidents/edit",
        data={"csrf_token": csrf, "channels": "sec", "destinations": "hook", "users": ""},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    with clean_db.connect() as conn:
        assert tuple(conn.execute(text(stored)).one()) == (None, False)
