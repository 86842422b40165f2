"""The dashboard in a real Chromium against real ``eventrouter api``, router and worker
processes: an admin configures routing through the forms, sees events arrive, and retries
a failure; a viewer finds no edit controls and a forced change refused. Screenshots of each
page are saved under ``artifacts/dashboard/``."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from eventrouter import publish
from eventrouter.router.control import Caller, Control, Role
from eventrouter.router.models.configuration import ChannelIn, DestinationIn
from eventrouter.router.models.people import TokenIn, UserIn
from tests.e2e.browser import ARTIFACTS, Browser, missing_browser
from tests.e2e.stack import Stack
from tests.receiver import Receiver, always, ok


@pytest.fixture(scope="module")
def site(stack: Stack) -> Iterator[str]:
    process, base_url = stack.start_api()
    yield base_url
    stack.stop(process)


@pytest.fixture(scope="module")
def browser(site: str) -> Iterator[Browser]:
    reason = missing_browser()
    if reason:
        pytest.fail(reason)
    running = Browser(site, ARTIFACTS / "dashboard")
    try:
        yield running
    finally:
        running.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(ok()) as running:
        yield running


def token_for(stack: Stack, role: str) -> str:
    control = Control(stack.engine, stack.settings, Caller(org="default", role=Role.ADMIN))
    email = f"{role}@example.com"
    control.users.add(UserIn(email=email, role=role))
    return control.tokens.create(TokenIn(user=email)).token


def sign_in(browser: Browser, token: str) -> None:
    browser.driver.delete_all_cookies()
    browser.open("/")
    assert browser.path.startswith("/signin?next=")
    browser.fill("#token", token)
    browser.click("#signin")
    browser.wait(lambda: browser.path == "/", message="the overview after signing in")


def event_row_counts(browser: Browser, event_id: str) -> dict[str, str]:
    row = browser.find(f'tr[data-event="{event_id}"]')
    cells = row.find_elements("css selector", "[data-count]")
    return {cell.get_attribute("data-count") or "": cell.text for cell in cells}


def test_an_admin_routes_events_and_retries_a_failure_from_the_browser(
    fresh: Stack, browser: Browser, receiver: Receiver
) -> None:
    sign_in(browser, token_for(fresh, "admin"))
    browser.screenshot("overview-empty")

    # A channel, with the pattern tester answering as the person types.
    browser.open("/channels/new")
    browser.fill("#name", "payments")
    browser.fill("#pattern", "payment:.*")
    browser.fill("#names", "payment:failed\ninvoice:paid")
    browser.wait(lambda: "payment:failed matches" in browser.find("#tested").text)
    assert "invoice:paid does not match" in browser.find("#tested").text
    browser.screenshot("channel-form")
    browser.click("#save-channel")
    browser.wait(lambda: browser.path == "/channels")
    browser.screenshot("channels")

    # A webhook destination: first without a URL, and the CLI's message is by the field.
    browser.open("/destinations/new?type=webhook")
    browser.fill("#name", "ops-hook")
    browser.click("#save-destination")
    error = browser.wait(lambda: browser.find("#error-url").text, message="the URL's error")
    assert error == "a webhook destination needs --url"
    browser.screenshot("destination-form-error")
    browser.fill("#url", receiver.url_for("/hook"))
    browser.click("#save-destination")
    browser.wait(lambda: browser.path == "/destinations/ops-hook")
    browser.click("#send-test")
    result = browser.wait(lambda: browser.find("#test-result").text)
    assert "succeeded — HTTP 200" in result
    browser.screenshot("destination-test")

    browser.open("/subscriptions/new")
    browser.fill("#name", "payments-to-ops")
    browser.click('input[name="channels"][value="payments"]')
    browser.click('input[name="destinations"][value="ops-hook"]')
    browser.click("#save-subscription")
    browser.wait(lambda: browser.path.startswith("/subscriptions"))
    browser.screenshot("subscriptions")
    fresh.wait_config_applied(timeout=10)

    # Published from Python: History shows it delivered within seconds, without a reload.
    browser.open("/events")  # empty: the first page looks for new events by itself
    event_id = publish("payment:failed", {"invoice": "in_1"}, settings=fresh.settings)
    browser.wait(
        lambda: event_row_counts(browser, event_id)["succeeded"] == "1",
        timeout=30,
        message=f"event {event_id} delivered\n{fresh.logs()}",
    )
    browser.screenshot("history")
    browser.click(f'tr[data-event="{event_id}"] a')
    browser.wait(lambda: browser.path == f"/events/{event_id}")
    assert json.loads(browser.find("#payload").text) == {"invoice": "in_1"}
    assert browser.find(".attempt [data-role=http-status]").text == "200"

    # The receiver refuses: the delivery fails with its HTTP status; fixed, Retry sends it.
    receiver.set_behaviour(always(422, b"unknown invoice"))
    failing = publish("payment:failed", {"invoice": "in_2"}, settings=fresh.settings)
    stored = "SELECT count(*) FROM events WHERE id = CAST(:id AS uuid)"
    browser.wait(lambda: fresh.scalar(stored, id=failing), message="the router to store it")
    browser.open(f"/events/{failing}")
    browser.wait(
        lambda: browser.find(".delivery").get_attribute("data-status") == "failed", timeout=20
    )
    assert browser.find(".attempt [data-role=http-status]").text == "422"
    assert "unknown invoice" in browser.find(".attempt").text
    browser.screenshot("event-failed")
    receiver.set_behaviour(ok())
    browser.click("button.retry")
    browser.wait(
        lambda: browser.find(".delivery").get_attribute("data-status") == "succeeded",
        timeout=20,
        message="the retried delivery to succeed",
    )
    assert len(browser.all(".attempt")) == 2
    browser.screenshot("event")
    browser.open("/")
    browser.wait(lambda: "ops-hook" in browser.find("#health").text)
    browser.screenshot("overview")
    browser.open("/deliveries")
    browser.screenshot("deliveries")


def test_an_admin_sets_rules_silences_an_alert_and_manages_people(
    fresh: Stack, browser: Browser
) -> None:
    admin = Control(fresh.engine, fresh.settings, Caller(org="default", role=Role.ADMIN))
    admin.channels.add(ChannelIn(name="runs", pattern="run:.*"))
    admin.destinations.add(
        DestinationIn(name="ml-hook", type="webhook", config={"url": "http://127.0.0.1:9/"})
    )
    sign_in(browser, token_for(fresh, "admin"))

    # Rules on a subscription: a CEL error is shown under the filter, where it is.
    browser.open("/subscriptions/new")
    browser.fill("#name", "accuracy")
    browser.click('input[name="channels"][value="runs"]')
    browser.click('input[name="destinations"][value="ml-hook"]')
    browser.fill("#filter", "payload.accuracy <")
    browser.find("#notify").send_keys("on-change")
    browser.fill("#key", "payload.experiment")
    browser.click("#resolve")
    browser.click("#save-subscription")
    error = browser.wait(lambda: browser.find("#error-filter").text, message="the filter's error")
    assert "syntax error at column 19" in error
    browser.screenshot("subscription-rules-error")
    browser.fill("#filter", "payload.accuracy < 0.9")
    browser.click("#save-subscription")
    browser.wait(lambda: browser.path.startswith("/subscriptions#accuracy"))
    row = browser.find('tr[id="accuracy"]').text
    assert "--filter payload.accuracy < 0.9" in row and "--notify on-change" in row
    browser.screenshot("subscriptions-with-rules")
    browser.open("/subscriptions/accuracy/edit")
    assert browser.find("#key").get_attribute("value") == "payload.experiment"
    browser.screenshot("subscription-rules-form")

    # A silence: added, listed, expired.
    browser.open("/silences")
    browser.fill("#filter", 'payload.experiment == "iris"')
    browser.fill("#duration", "2h")
    browser.fill("#comment", "retraining iris")
    browser.click("#save-silence")
    browser.wait(lambda: "retraining iris" in browser.find("#current").text)
    browser.screenshot("silences")
    browser.click("#current button.expire")
    browser.wait(lambda: "retraining iris" in browser.find("#expired").text)
    assert "Nothing is silenced." in browser.find("#current").text
    browser.screenshot("silences-expired")

    # A user: added, made a developer, removed.
    browser.open("/users")
    browser.fill("#email", "ada@example.com")
    browser.find("#user-role").send_keys("viewer")
    browser.click("#save-user")
    browser.wait(lambda: browser.all('tr[data-user="ada@example.com"]'))
    ada = 'tr[data-user="ada@example.com"]'
    browser.find(f"{ada} select").send_keys("developer")
    browser.click(f"{ada} button")
    browser.wait(
        lambda: (
            fresh.scalar("SELECT role FROM users WHERE email = 'ada@example.com'") == "developer"
        )
    )
    browser.screenshot("users")
    browser.click(f'{ada} a[href$="/remove"]')
    browser.click("#confirm-remove")
    browser.wait(lambda: browser.path == "/users" and not browser.all(ada))

    # A token for a service: shown once, listed by its prefix, revoked.
    browser.open("/tokens")
    browser.fill("#service", "billing")
    browser.fill("#name", "billing producer")
    browser.click("#save-token")
    token = browser.wait(lambda: browser.find("#token").text, message="the new token")
    assert token.startswith("er_")
    browser.screenshot("token-created")
    browser.click("#tokens-link")
    browser.wait(lambda: browser.path == "/tokens")
    assert token not in browser.text() and "billing producer" in browser.text()
    browser.click("#tokens button.revoke")
    browser.wait(lambda: "revoked" in browser.find("#tokens").text)
    browser.screenshot("tokens")
    assert fresh.scalar("SELECT revoked_at IS NOT NULL FROM api_tokens WHERE service = 'billing'")


def test_a_viewer_finds_no_edit_controls_and_a_forced_change_is_refused(
    fresh: Stack, browser: Browser
) -> None:
    sign_in(browser, token_for(fresh, "viewer"))
    for path in ("/destinations", "/subscriptions", "/channels", "/silences"):
        browser.open(path)
        assert not browser.all(
            "#add-destination, #add-subscription, #add-channel, #silence-form"
        ), path
        assert "Remove…" not in browser.text()
        assert "Users" not in browser.find("nav").text
    browser.screenshot("viewer-channels")
    # A hand-made form with the session's own CSRF token: only the role stops it.
    browser.open("/channels")
    browser.driver.execute_script(
        """
        const form = document.createElement("form");
        form.method = "post"; form.action = "/channels/new";
        for (const [name, value] of [["name", "forced"], ["pattern", "x:.*"],
             ["csrf_token", document.querySelector("input[name=csrf_token]").value]]) {
          const input = document.createElement("input");
          input.name = name; input.value = value; form.appendChild(input);
        }
        document.body.appendChild(form); form.submit();
        """
    )
    browser.wait(lambda: "Not allowed" in browser.find("h1").text)
    assert "adding a channel needs the admin role; this caller is a viewer" in browser.text()
    browser.screenshot("viewer-forbidden")
    assert fresh.scalar("SELECT count(*) FROM channels WHERE name = 'forced'") == 0
    browser.open("/users")  # not in a viewer's menu, and refused by URL
    assert "listing users needs the admin role" in browser.text()


def test_a_viewer_chooses_their_notifications_and_an_admin_sees_everyones(
    fresh: Stack, browser: Browser
) -> None:
    sign_in(browser, token_for(fresh, "viewer"))
    browser.click("#my-notifications")
    browser.wait(lambda: browser.path == "/notifications", message="My notifications")
    browser.click("#slack_enabled")  # untick: email only
    browser.fill("#quiet_window", "22:00-07:00")
    browser.fill("#quiet_days", "mon-fri")
    browser.find("#timezone").send_keys("Asia/Tokyo")
    browser.fill("#digest", "daily 08:30")
    browser.click("#save-notifications")
    browser.wait(lambda: browser.all("#saved"), message="the saved notice")
    browser.screenshot("my-notifications")
    saved = fresh.scalar(
        "SELECT concat_ws(' ', p.email_enabled, p.slack_enabled, p.quiet_window, p.quiet_days,"
        " p.digest, u.timezone) FROM user_preferences p JOIN users u ON u.id = p.user_id"
    )
    assert saved == "t f 22:00-07:00 mon-fri daily 08:30 Asia/Tokyo"

    sign_in(browser, token_for(fresh, "admin"))
    browser.open("/notifications/everyone")
    row = browser.find("#everyone").text
    assert "viewer@example.com" in row and "22:00-07:00 mon-fri (Asia/Tokyo), hold" in row
    browser.screenshot("everyones-notifications")


def test_an_admin_names_people_on_a_subscription(fresh: Stack, browser: Browser) -> None:
    admin = Control(fresh.engine, fresh.settings, Caller(org="default", role=Role.ADMIN))
    admin.channels.add(ChannelIn(name="security", pattern="security:.*"))
    admin.users.add(UserIn(email="oncall@example.com", role="developer"))
    sign_in(browser, token_for(fresh, "admin"))

    # No destination, only people: a typo in an email is refused by the field, as the CLI does.
    browser.open("/subscriptions/new")
    browser.fill("#name", "incidents")
    browser.click('input[name="channels"][value="security"]')
    browser.fill("#users", "role:admin, oncal@example.com")
    browser.click("#mandatory")
    browser.click("#save-subscription")
    error = browser.wait(lambda: browser.find("#error-users").text, message="the users' error")
    assert error == "no user 'oncal@example.com'; see 'eventrouter users list'"
    assert browser.find("#mandatory").is_selected()  # what was ticked stays
    browser.screenshot("subscription-people-error")
    browser.fill("#users", "role:admin, oncall@example.com")
    browser.click("#save-subscription")
    browser.wait(lambda: browser.path.startswith("/subscriptions#incidents"))
    row = browser.find('tr[id="incidents"]').text
    assert "role:admin,oncall@example.com" in row and "mandatory" in row
    browser.screenshot("subscriptions-with-people")
    stored = "SELECT concat_ws(' ', users, mandatory) FROM subscriptions WHERE name = 'incidents'"
    assert fresh.scalar(stored) == "role:admin,oncall@example.com t"

    browser.open("/subscriptions/incidents/edit")
    assert browser.find("#users").get_attribute("value") == "role:admin,oncall@example.com"
    browser.click("#mandatory")  # untick
    browser.click("#save-subscription")
    browser.wait(lambda: browser.path.startswith("/subscriptions#incidents"))
    assert fresh.scalar(stored) == "role:admin,oncall@example.com f"
