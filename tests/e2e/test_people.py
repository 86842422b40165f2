"""People end to end on real router and worker processes, with aiosmtpd and the Slack
stand-in: each person receives exactly what they chose; one in Asia/Tokyo quiet hours
gets one held digest when the window ends (a real window, ending within the next minute
or so); a person removed while held gets nothing and no one else loses anything."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from eventrouter.router.db import preferences
from eventrouter.router.people.preferences import Preferences, QuietHours
from tests.e2e.destination_helpers import send
from tests.e2e.stack import Stack
from tests.providers import SlackApi
from tests.receiver import Receiver, wait_for
from tests.smtp_server import SmtpServer

TOKEN = "xoxb-1111-2222-abcdefghijkl"
TOKYO = ZoneInfo("Asia/Tokyo")


def quiet_until_soon() -> tuple[QuietHours, datetime]:
    """Quiet hours in Tokyo that hold now and end at a minute boundary 20-80 s from now."""
    now = datetime.now(UTC)
    end = (now + timedelta(seconds=80)).replace(second=0, microsecond=0)
    start = (now - timedelta(minutes=5)).astimezone(TOKYO)
    local_end = end.astimezone(TOKYO)
    window = f"{start:%H:%M}-{local_end:%H:%M}"
    return QuietHours(window=window), end


def prefer(stack: Stack, email: str, prefs: Preferences) -> None:
    user_id = stack.scalar("SELECT id FROM users WHERE email = :e", e=email)
    with stack.engine.begin() as conn:
        preferences.save(conn, stack.settings.org, user_id, prefs)


def test_people_get_what_they_chose(fresh: Stack) -> None:
    api = SlackApi(TOKEN)
    with SmtpServer(tls="none") as smtp, Receiver(api) as slack:
        fresh.cli("channels", "add", "payments", "--pattern", "payment:.*")
        fresh.cli("destinations", "add", "ops-mail", "--type", "email", "--from",
                  "er@example.com", "--to", "ops@example.com", "--smtp-host", "127.0.0.1",
                  "--smtp-port", str(smtp.port), "--smtp-tls", "none")  # fmt: skip
        fresh.cli("destinations", "add", "ops-slack-bot", "--type", "slack", "--bot-token",
                  TOKEN, "--channel", "C0OPS", "--api-url", slack.url_for("/api"))  # fmt: skip
        fresh.cli("people", "set", "--email-via", "ops-mail", "--slack-via", "ops-slack-bot")
        fresh.cli("users", "add", "alice@example.com", "--role", "admin")
        fresh.cli("users", "add", "bob@example.com", "--role", "developer",
                  "--slack-user", "U0BOB1")  # fmt: skip
        fresh.cli("users", "add", "kenji@example.com", "--role", "developer",
                  "--timezone", "Asia/Tokyo")  # fmt: skip
        fresh.cli("users", "add", "dave@example.com", "--role", "developer",
                  "--timezone", "Asia/Tokyo")  # fmt: skip
        fresh.cli("users", "add", "carol@example.com", "--role", "viewer")
        quiet, quiet_ends = quiet_until_soon()
        prefer(fresh, "bob@example.com", Preferences(email_enabled=False))
        prefer(fresh, "kenji@example.com", Preferences(quiet_hours=quiet))
        prefer(fresh, "dave@example.com", Preferences(quiet_hours=quiet))
        prefer(fresh, "carol@example.com", Preferences(channels={"payments": False}))
        fresh.cli("subscriptions", "add", "pay", "--channel", "payments", "--users", "all")
        fresh.wait_config_applied()

        first = send(fresh, "payment:failed", {"amount": 12, "message": "card declined"})
        second = send(fresh, "payment:failed", {"amount": 30, "message": "card expired"})
        wait_for(lambda: len(smtp.messages) >= 2 and slack.count() >= 2, 30, "mail and DMs")
        assert sorted(m.rcpt_tos[0] for m in smtp.messages) == ["alice@example.com"] * 2
        assert sorted(channel for channel, _ in api.messages) == ["U0BOB1", "U0BOB1"]

        shown = fresh.cli("show", first).stdout
        assert "decision pay user:bob@example.com/email: medium_off — email is off" in shown
        assert "decision pay user:carol@example.com/email: opted_out" in shown
        assert "decision pay user:kenji@example.com/email: held — quiet hours" in shown
        assert "→ user:alice@example.com/email: succeeded" in shown

        fresh.cli("users", "remove", "dave@example.com")  # held, then removed
        assert datetime.now(UTC) < quiet_ends, "the test was too slow to be in quiet hours"
        wait_for(lambda: len(smtp.messages) >= 3, 120, "kenji's digest when his quiet hours end")
        assert datetime.now(UTC) >= quiet_ends - timedelta(seconds=1)
        digest = smtp.messages[2]
        assert digest.rcpt_tos == ["kenji@example.com"]
        assert "2 \u00d7 payment:failed (held during quiet hours)" in str(digest.message["subject"])
        fresh.wait_settled(2)
        assert len(smtp.messages) == 3 and slack.count() == 2  # nothing for dave or carol
        held = fresh.rows("SELECT recipient, status FROM deliveries WHERE digest_id IS NOT NULL")
        assert [(r.recipient, r.status) for r in held] == [
            ("user:kenji@example.com/email", "succeeded")
        ]
        assert second in fresh.cli("show", second).stdout
