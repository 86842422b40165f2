"""``people set|show``, ``subscriptions --users/--mandatory`` and per-person decisions in
``show``, through the CLI's entry point against real Postgres and Redis."""

from __future__ import annotations

import json

from sqlalchemy import Engine

from eventrouter.router.settings import Settings
from tests.integration.test_rules_cli import route


def test_people_through_the_cli(run, settings: Settings, clean_db: Engine) -> None:
    assert run("channels", "add", "payments", "--pattern", "payment:.*").code == 0
    mail = ("destinations", "add", "ops-mail", "--type", "email", "--from", "er@example.com",
            "--to", "ops@example.com", "--smtp-host", "127.0.0.1")  # fmt: skip
    assert run(*mail).code == 0
    hook = run("destinations", "add", "hook", "--type", "webhook", "--url", "http://127.0.0.1:9/")
    assert hook.code == 0
    wrong = run("people", "set", "--email-via", "hook")
    assert wrong.code != 0 and "'hook' is a webhook destination; name a email one" in wrong.err
    assert "Traceback" not in wrong.err
    done = run("people", "set", "--email-via", "ops-mail")
    assert done.code == 0, done.err
    assert run("people", "show").out.strip() == "people: email via ops-mail, slack via - (none)"
    assert run("users", "add", "alice@example.com", "--role", "admin").code == 0
    assert run("users", "add", "bob@example.com", "--role", "viewer").code == 0
    bad = run("subscriptions", "add", "pay", "--channel", "payments", "--users", "role:owner")
    assert bad.code != 0 and "unknown role 'owner'" in bad.err
    add = run("subscriptions", "add", "pay", "--channel", "payments", "--users", "role:admin")
    assert add.code == 0, add.err
    assert "users role:admin" in add.out
    update = run("subscriptions", "update", "pay", "--users", "all", "--mandatory", "--json")
    assert update.code == 0, update.err
    assert json.loads(update.out)["users"] == "all" and json.loads(update.out)["mandatory"]
    event_id = run("send", "payment:failed", "--payload", "{}").out.split()[-1]
    route(settings, clean_db)
    text = run("show", event_id).out
    assert "decision pay user:alice@example.com/email: delivered" in text
    assert "decision pay user:bob@example.com/slack: unreachable — the org has no slack" in text
    assert "→ user:alice@example.com/email: pending" in text
    assert "→ user:bob@example.com/email: pending" in text
    shown = json.loads(run("show", event_id, "--json").out)
    assert {d["recipient"] for d in shown["decisions"]} == {
        None,
        "user:alice@example.com/email", "user:alice@example.com/slack",
        "user:bob@example.com/email", "user:bob@example.com/slack",
    }  # fmt: skip
    cleared = run("subscriptions", "update", "pay", "--no-users")
    assert cleared.code != 0 and "at least one destination" in cleared.err
