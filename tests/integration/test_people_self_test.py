"""``POST /v1/me/test``: a person sends themselves a test on email (aiosmtpd on loopback) or
Slack (the stand-in answering as Slack's Web API), through the org's people media, to where
their notifications go; refusals say what to set up; only admins test someone else."""

from __future__ import annotations

from typing import Any

from eventrouter.router.control import Caller, Control
from eventrouter.router.models.people import PeopleSettingsIn
from tests.integration.conftest import ApiClient, Run
from tests.integration.test_dashboard import sign_in
from tests.providers import SlackApi
from tests.receiver import Receiver
from tests.smtp_server import SmtpServer

TOKEN = "xoxb-1111-2222-abcdefghijkl"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def add_media(api: ApiClient, smtp_port: int, slack_url: str) -> None:
    admin = api.headers("admin")
    mail = {
        "from_address": "er@example.com",
        "to": ["ops@example.com"],
        "smtp": {"host": "127.0.0.1", "port": smtp_port, "tls": "none"},
    }
    slack = {"bot_token": TOKEN, "channel": "C0OPS", "api_url": slack_url}
    for name, kind, config in (("ops-mail", "email", mail), ("ops-bot", "slack", slack)):
        answer = api.http.post(
            "/v1/destinations", json={"name": name, "type": kind, "config": config}, headers=admin
        )
        assert answer.status_code == 201, answer.text


def test_a_person_tests_each_medium_at_their_own_address(api: ApiClient) -> None:
    slack_api = SlackApi(TOKEN)
    with SmtpServer(tls="none") as smtp, Receiver(slack_api) as slack:
        ana = bearer(api.token("viewer", email="ana@example.com"))
        test: dict[str, Any] = {"medium": "email"}

        refused = api.http.post("/v1/me/test", json=test, headers=ana)
        assert refused.status_code == 422, refused.text
        assert "people set --email-via" in refused.json()["detail"]
        assert refused.json()["errors"][0]["name"] == "medium"

        add_media(api, smtp.port, slack.url_for("/api"))
        media = {"email_via": "ops-mail", "slack_via": "ops-bot"}
        assert api.http.put("/v1/people", json=media, headers=ana).status_code == 403
        put = api.http.put("/v1/people", json=media, headers=api.headers("admin"))
        assert put.status_code == 200 and put.json() == media, put.text
        assert api.http.get("/v1/people", headers=ana).json() == media
        control = Control(api.engine, api.settings, Caller(org="default"))

        sent = api.http.post("/v1/me/test", json=test, headers=ana)
        assert sent.status_code == 200, sent.text
        body = sent.json()
        assert body["success"] is True and body["address"] == "ana@example.com"
        assert body["message"].startswith("test notification to ana@example.com via ops-mail")
        [mail] = smtp.wait_for_messages(1)
        assert mail.rcpt_tos == ["ana@example.com"]  # not the destination's ops@example.com
        recorded = control.events.show(body["event_id"])
        assert [d.destination for d in recorded.deliveries] == ["user:ana@example.com/email"]

        no_slack = api.http.post("/v1/me/test", json={"medium": "slack"}, headers=ana)
        assert no_slack.status_code == 422 and "slack-user" in no_slack.json()["detail"]
        api.http.put("/v1/me/preferences", json={"slack_target": "U0ANA1"}, headers=ana)
        dm = api.http.post("/v1/me/test", json={"medium": "slack"}, headers=ana).json()
        assert dm["success"] is True and dm["address"] == "U0ANA1", dm
        assert [channel for channel, _ in slack_api.messages] == ["U0ANA1"]

        unknown = api.http.post("/v1/me/test", json={"medium": "pager"}, headers=ana)
        assert unknown.status_code == 422


def test_only_an_admin_sends_a_test_to_someone_else(api: ApiClient) -> None:
    with SmtpServer(tls="none") as smtp, Receiver(SlackApi(TOKEN)) as slack:
        add_media(api, smtp.port, slack.url_for("/api"))
        Control(api.engine, api.settings, Caller(org="default")).people.set(
            PeopleSettingsIn(email_via="ops-mail")
        )
        bo = bearer(api.token("developer", email="bo@example.com"))
        ana = bearer(api.token("viewer", email="ana@example.com"))
        ana_id = api.http.get("/v1/me", headers=ana).json()["user"]["id"]
        email = {"medium": "email"}
        assert api.http.post(f"/v1/users/{ana_id}/test", json=email, headers=bo).status_code == 403
        assert smtp.messages == []
        by_admin = api.http.post(
            f"/v1/users/{ana_id}/test", json=email, headers=api.headers("admin")
        )
        assert by_admin.status_code == 200 and by_admin.json()["success"], by_admin.text
        assert [m.rcpt_tos for m in smtp.wait_for_messages(1)] == [["ana@example.com"]]


def test_send_me_a_test_on_the_dashboard(api: ApiClient) -> None:
    api.http.follow_redirects = True
    with SmtpServer(tls="none") as smtp, Receiver(SlackApi(TOKEN)) as slack:
        csrf = sign_in(api.http, api.token("viewer", email="ana@example.com"))
        form = {"csrf_token": csrf, "medium": "email"}
        refused = api.http.post("/notifications/test", data=form)
        assert refused.status_code == 400 and "people set --email-via" in refused.text
        add_media(api, smtp.port, slack.url_for("/api"))
        Control(api.engine, api.settings, Caller(org="default")).people.set(
            PeopleSettingsIn(email_via="ops-mail")
        )
        sent = api.http.post("/notifications/test", data=form)
        assert sent.status_code == 200 and 'class="test-result good"' in sent.text, sent.text
        assert "test notification to ana@example.com via ops-mail: succeeded" in sent.text
        assert [m.rcpt_tos for m in smtp.wait_for_messages(1)] == [["ana@example.com"]]
        forged = api.http.post("/notifications/test", data={**form, "csrf_token": "x" * 43})
        assert forged.status_code == 403 and len(smtp.messages) == 1


def test_preferences_test_from_the_cli(run: Run) -> None:
    with SmtpServer(tls="none") as smtp:
        assert run("users", "add", "ana@example.com", "--role", "viewer").code == 0
        unset = run("preferences", "test", "email", "--user", "ana@example.com")
        assert unset.code == 2 and "people set --email-via" in unset.err
        assert "Traceback" not in unset.err
        mail = ("destinations", "add", "ops-mail", "--type", "email", "--from",
                "er@example.com", "--to", "ops@example.com", "--smtp-host", "127.0.0.1",
                "--smtp-port", str(smtp.port), "--smtp-tls", "none")  # fmt: skip
        assert run(*mail).code == 0
        assert run("people", "set", "--email-via", "ops-mail").code == 0
        sent = run("preferences", "test", "email", "--user", "ana@example.com")
        assert sent.code == 0, sent.err
        assert sent.out.startswith("test notification to ana@example.com via ops-mail: succeeded")
        assert [m.rcpt_tos for m in smtp.wait_for_messages(1)] == [["ana@example.com"]]
        assert run("preferences", "test", "fax", "--user", "ana@example.com").code == 2
