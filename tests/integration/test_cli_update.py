"""Issue 18 items 1-3 through the CLI: editing configuration in place, reserved system
channel names, and removing a destination a subscription still uses."""

from __future__ import annotations

import json

from sqlalchemy import Engine

from eventrouter.router.db.routing import load_routing_table
from tests.helpers import Seed, rows, scalar
from tests.integration.conftest import ApiClient, Run
from tests.integration.test_cli import assert_usage_error


def configure(run: Run) -> None:
    for args in (
        ("channels", "add", "payments", "--pattern", "payment:.*"),
        ("channels", "add", "refunds", "--pattern", "refund:.*"),
        (
            "destinations",
            "add",
            "hook",
            "--type",
            "webhook",
            "--url",
            "http://127.0.0.1:9/a",
            "--header",
            "X-Team: ops",
            "--header",
            "X-Drop: me",
        ),
        ("destinations", "add", "other", "--type", "webhook", "--url", "http://127.0.0.1:9/b"),
        ("subscriptions", "add", "s", "--channel", "payments", "--destination", "hook"),
    ):
        result = run(*args)
        assert result.code == 0, result


def planned(engine: Engine, name: str, env: str | None = None) -> list[int]:
    with engine.connect() as conn:
        table = load_routing_table(conn)
    return sorted(p.destination_id for p in table.plan(name, "default", env))


def test_channel_update_changes_routing_in_place(run: Run, clean_db: Engine) -> None:
    configure(run)
    hook = scalar(clean_db, "SELECT id FROM destinations WHERE name = 'hook'")
    version = scalar(clean_db, "SELECT version FROM config_version")
    assert planned(clean_db, "payment:failed") == [hook]
    result = run("channels", "update", "payments", "--pattern", "invoice:.*", "--env", "prod")
    assert result.code == 0 and "pattern invoice:.*" in result.out, result
    assert scalar(clean_db, "SELECT version FROM config_version") > version
    assert planned(clean_db, "payment:failed", "prod") == []
    assert planned(clean_db, "invoice:paid", "prod") == [hook]
    assert planned(clean_db, "invoice:paid", "dev") == []
    assert run("channels", "update", "payments", "--all-envs").code == 0
    assert planned(clean_db, "invoice:paid", "dev") == [hook]
    subs = json.loads(run("channels", "list", "--json").out)
    assert [c["subscriptions"] for c in subs if c["name"] == "payments"] == [["s"]]
    assert_usage_error(run("channels", "update", "payments", "--pattern", "(x"), "(x")
    assert_usage_error(run("channels", "update", "payments"), "nothing to change")
    assert_usage_error(run("channels", "update", "nope", "--pattern", "x"), "no channel named")
    assert_usage_error(run("channels", "update", "delivery:failed", "--pattern", "x"), "read-only")


def test_destination_update_keeps_open_deliveries_and_history(
    run: Run, clean_db: Engine, seed: Seed
) -> None:
    configure(run)
    hook = scalar(clean_db, "SELECT id FROM destinations WHERE name = 'hook'")
    event_id = seed.event()
    delivery = seed.delivery(event_id, hook, status="pending", attempt_count=1)
    result = run(
        "destinations",
        "update",
        "hook",
        "--url",
        "http://127.0.0.1:9/new",
        "--header",
        "X-Team: payments",
        "--header",
        "X-Drop:",
        "--timeout",
        "5",
        "--retry-schedule",
        "1s,2s",
    )
    assert result.code == 0, result
    assert "http://127.0.0.1:9/new" in result.out
    (shown,) = json.loads(run("destinations", "list", "--json").out)[:1]
    assert shown["config"]["url"] == "http://127.0.0.1:9/new"
    assert sorted(shown["config"]["headers"]) == ["X-Team"]
    assert shown["config"]["timeout"] == 5
    assert shown["retry_schedule"] == "1s,2s"
    (row,) = rows(clean_db, "SELECT id, destination_id, status FROM deliveries")
    assert (row.id, row.destination_id, row.status) == (delivery, hook, "pending")
    assert run("destinations", "update", "hook", "--default-retry-schedule").code == 0
    assert scalar(clean_db, "SELECT retry_schedule FROM destinations WHERE id = :i", i=hook) is None
    assert_usage_error(
        run("destinations", "update", "hook", "--routing-key", "k" * 32),
        "--routing-key does not apply to --type webhook",
    )
    assert_usage_error(run("destinations", "update", "hook", "--url", "ftp://x"), "url")
    assert_usage_error(run("destinations", "update", "hook"), "nothing to change")
    assert_usage_error(
        run("destinations", "update", "hook", "--timeout", "0"), "timeout: must be greater than 0"
    )
    assert_usage_error(run("destinations", "update", "nope", "--timeout", "3"), "no destination")


def test_subscription_update_edits_links(run: Run, clean_db: Engine) -> None:
    configure(run)
    ids = dict(rows(clean_db, "SELECT name, id FROM destinations"))
    result = run(
        "subscriptions",
        "update",
        "s",
        "--add-channel",
        "refunds",
        "--add-destination",
        "other",
        "--env",
        "prod",
    )
    assert result.code == 0, result
    assert "payments, refunds → hook, other (env prod)" in result.out
    assert planned(clean_db, "refund:done", "prod") == sorted(ids.values())
    assert run("subscriptions", "update", "s", "--remove-destination", "hook").code == 0
    assert planned(clean_db, "payment:failed", "prod") == [ids["other"]]
    assert run("subscriptions", "update", "s", "--channel", "refunds", "--all-envs").code == 0
    (sub,) = json.loads(run("subscriptions", "list", "--json").out)
    assert (sub["channels"], sub["destinations"], sub["env"]) == (["refunds"], ["other"], None)
    assert_usage_error(
        run("subscriptions", "update", "s", "--remove-destination", "other"), "at least one"
    )
    assert_usage_error(
        run("subscriptions", "update", "s", "--remove-channel", "payments"), "no channel 'payments'"
    )
    assert_usage_error(
        run("subscriptions", "update", "s", "--add-destination", "nope"), "no destination named"
    )


def test_system_channel_names_are_reserved(run: Run, clean_db: Engine) -> None:
    assert_usage_error(
        run("channels", "add", "delivery:failed", "--pattern", "x"), "reserved", "system"
    )
    names = [c["name"] for c in json.loads(run("channels", "list", "--json").out)]
    assert names.count("delivery:failed") == 1


def test_destination_remove_refuses_while_used_unless_forced(run: Run, clean_db: Engine) -> None:
    configure(run)
    assert_usage_error(
        run("destinations", "remove", "hook"), "used by subscription(s) s", "--force"
    )
    assert scalar(clean_db, "SELECT count(*) FROM destinations WHERE name = 'hook'") == 1
    result = run("destinations", "remove", "hook", "--force")
    assert result.code == 0 and "detached from subscription(s) s" in result.out, result
    (sub,) = json.loads(run("subscriptions", "list", "--json").out)
    assert sub["destinations"] == []
    assert run("destinations", "remove", "other").code == 0


def test_through_the_api_names_are_reserved_and_removal_needs_force(api: ApiClient) -> None:
    admin = api.headers("admin")
    taken = api.http.post(
        "/v1/channels", json={"name": "delivery:failed", "pattern": "x"}, headers=admin
    )
    assert taken.status_code == 409 and "reserved" in taken.json()["detail"], taken.text
    for path, body in (
        ("/v1/channels", {"name": "payments", "pattern": "payment:.*"}),
        (
            "/v1/destinations",
            {"name": "hook", "type": "webhook", "config": {"url": "http://127.0.0.1:9/a"}},
        ),
        ("/v1/subscriptions", {"name": "s", "channels": ["payments"], "destinations": ["hook"]}),
    ):
        created = api.http.post(path, json=body, headers=admin)
        assert created.status_code == 201, created.text
    refused = api.http.delete("/v1/destinations/hook", headers=admin)
    assert refused.status_code in (400, 409, 422) and "--force" in refused.json()["detail"]
    forced = api.http.delete("/v1/destinations/hook", params={"force": "true"}, headers=admin)
    assert forced.status_code in (200, 204), forced.text
