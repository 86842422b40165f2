"""Configuration as code through the CLI (issue 15 part 2): apply, dry-run, prune, export,
schema, against real Postgres."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from sqlalchemy import Engine

from tests.helpers import rows, scalar
from tests.integration.conftest import Run
from tests.integration.test_cli import assert_usage_error

EXAMPLE = Path(__file__).parents[2] / "examples" / "routing.yaml"
SECRETS = {
    "OPS_HOOK_TOKEN": "Bearer s3cr3t-token",
    "OPS_SLACK_WEBHOOK": "https://hooks.slack.com/services/T0/B0/abcdefabcdef",
    "ONCALL_ROUTING_KEY": "0123456789abcdef0123456789abcdef",
}


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def write(folder: Path, text: str, name: str = "routing.yaml") -> str:
    path = folder / name
    path.write_text(text)
    return str(path)


def test_example_applies_exports_and_round_trips(run: Run, secrets: Path, clean_db: Engine) -> None:
    dry = run("apply", "-f", str(EXAMPLE), "--dry-run")
    assert dry.code == 0, dry
    assert "+ channel payments" in dry.out and "(dry run: nothing written)" in dry.out
    assert scalar(clean_db, "SELECT count(*) FROM destinations") == 0
    applied = run("apply", "-f", str(EXAMPLE))
    assert applied.code == 0, applied
    names = {r.name for r in rows(clean_db, "SELECT name FROM destinations")}
    assert {"ops-hook", "ops-slack", "oncall"} <= names
    again = run("apply", "-f", str(EXAMPLE), "--dry-run")
    assert "no changes" in again.out, again
    exported = run("export")
    assert exported.code == 0, exported
    for value in SECRETS.values():
        assert value not in exported.out
    assert "${env:OPS_HOOK_TOKEN}" in exported.out
    path = write(secrets, exported.out, "exported.yaml")
    assert "no changes" in run("apply", "-f", path, "--prune", "--dry-run").out


def test_dry_run_shows_changes_masked_and_prune_removes(
    run: Run, secrets: Path, clean_db: Engine
) -> None:
    assert run("apply", "-f", str(EXAMPLE)).code == 0
    assert run("channels", "add", "extra", "--pattern", "x:.*").code == 0
    text = EXAMPLE.read_text().replace("payment:.*", "payment:.*|invoice:.*")
    path = write(secrets, text)
    secrets_changed = {"OPS_HOOK_TOKEN": "Bearer n3w-s3cr3t-token"}
    import os

    os.environ.update(secrets_changed)
    dry = run("apply", "-f", path, "--prune", "--dry-run")
    assert dry.code == 0, dry
    assert "~ channel payments" in dry.out and "invoice:.*" in dry.out
    assert "- channel extra" in dry.out
    assert "secret changed" in dry.out and "n3w-s3cr3t" not in dry.out
    assert "…oken" in dry.out
    assert run("apply", "-f", path, "--prune").code == 0
    assert scalar(clean_db, "SELECT count(*) FROM channels WHERE name = 'extra'") == 0
    assert scalar(clean_db, "SELECT count(*) FROM channels WHERE is_system") == 2
    assert "no changes" in run("apply", "-f", path, "--prune", "--dry-run").out


def test_every_problem_at_once_and_nothing_written(
    run: Run, secrets: Path, clean_db: Engine
) -> None:
    path = write(
        secrets,
        """channels:
  good: {pattern: "a:.*"}
  bad: {pattern: "(a"}
  delivery:failed: {pattern: x}
destinations:
  hook:
    type: webhook
    url: ftp://nope
  slack:
    type: slack
    webhook_url: ${env:NOT_SET_ANYWHERE}
subscriptions:
  s: {channels: [good, missing], destinations: [hook]}
""",
    )
    result = run("apply", "-f", path)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert lines[0].startswith("error: routing file not applied, 5 problems"), result.err
    text = result.err
    assert f"{path}:3: channels.bad.pattern" in text
    assert f"{path}:8: destinations.hook.url" in text
    assert "NOT_SET_ANYWHERE" in text and f"{path}:11" in text
    assert "reserved for a built-in system channel" in text
    assert "'missing'" in text
    assert scalar(clean_db, "SELECT count(*) FROM channels WHERE NOT is_system") == 0
    dup = write(secrets, "channels:\n  a: {pattern: x}\n  a: {pattern: y}\n", "dup.yaml")
    assert_usage_error(run("apply", "-f", dup), "dup.yaml:3: channels.a: named twice")
    assert_usage_error(
        run("apply", "-f", write(secrets, "channels: [", "broken.yaml")), "not valid YAML"
    )


def test_a_directory_and_secret_files(run: Run, secrets: Path, clean_db: Engine) -> None:
    (secrets / "conf").mkdir()
    (secrets / "conf" / "key.txt").write_text("fedcba9876543210fedcba9876543210\n")
    write(secrets / "conf", "channels:\n  disks: {pattern: 'disk:.*'}\n", "a.yaml")
    write(
        secrets / "conf",
        "destinations:\n  pd:\n    type: pagerduty\n    routing_key: {secret_file: key.txt}\n"
        "subscriptions:\n  disks-to-pd: {channels: [disks], destinations: [pd]}\n",
        "b.yml",
    )
    result = run("apply", "-f", str(secrets / "conf"))
    assert result.code == 0, result
    assert "secret_file: key.txt" in run("export").out
    assert "fedcba" not in run("export").out


def test_schema_is_json_schema(run: Run) -> None:
    result = run("schema")
    assert result.code == 0
    schema = json.loads(result.out)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["properties"]) == {"channels", "destinations", "subscriptions", "people"}
    jsonschema.validate(yaml.safe_load(EXAMPLE.read_text()), schema)
    jsonschema.validate(yaml.safe_load(PEOPLE), schema)
    wrong = yaml.safe_load(PEOPLE.replace("resolve: true", "resolve: sometimes"))
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(wrong, schema)


PEOPLE = """\
channels:
  payments: {pattern: "payment:.*"}
destinations:
  ops-mail:
    type: email
    from_address: er@example.com
    to: [ops@example.com]
    smtp: {host: smtp.example.com}
  ops-slack-bot:
    type: slack
    bot_token: ${env:OPS_SLACK_BOT_TOKEN}
    channel: C0OPS
subscriptions:
  pay:
    channels: [payments]
    destinations: [ops-mail]
    rules:
      filter: payload.amount > 100
      notify: on-change
      key: payload.order
      resolve: true
    users: [ana@example.com, role:admin]
    mandatory: true
  pay-people: {channels: [payments], users: all}
people: {email_via: ops-mail, slack_via: ops-slack-bot}
"""


@pytest.fixture
def people_file(run: Run, secrets: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPS_SLACK_BOT_TOKEN", "xoxb-1234-5678-abcdefabcdef")
    assert run("users", "add", "ana@example.com", "--role", "viewer").code == 0
    return write(secrets, PEOPLE)


def test_rules_users_and_people_apply_and_round_trip(
    run: Run, secrets: Path, people_file: str, clean_db: Engine
) -> None:
    applied = run("apply", "-f", people_file)
    assert applied.code == 0, applied
    (pay,) = rows(clean_db, "SELECT rules, users, mandatory FROM subscriptions WHERE name = 'pay'")
    assert pay.rules == {
        "filter": "payload.amount > 100",
        "notify": "on-change",
        "key": "payload.order",
        "resolve": True,
    }
    assert (pay.users, pay.mandatory) == ("role:admin,ana@example.com", True)
    people = run("people", "show")
    assert "email via ops-mail, slack via ops-slack-bot" in people.out, people
    assert "no changes" in run("apply", "-f", people_file, "--dry-run").out
    # A teammate adds a rule on the command line: the file's next apply would remove it,
    # and says so; an export carries it, and applying the export changes nothing.
    changed = run("subscriptions", "update", "pay", "--repeat-interval", "1h")
    assert changed.code == 0, changed
    dry = run("apply", "-f", people_file, "--dry-run")
    assert "~ subscription pay\n    rules.repeat_interval: 1h → -" in dry.out, dry
    exported = run("export")
    assert exported.code == 0, exported
    assert "repeat_interval: 1h" in exported.out and "mandatory: true" in exported.out
    assert "people:\n  email_via: ops-mail\n  slack_via: ops-slack-bot\n" in exported.out
    assert "xoxb-1234" not in exported.out
    again = write(secrets, exported.out, "exported.yaml")
    assert run("apply", "-f", again, "--prune", "--dry-run").out == "no changes\n"
    assert run("apply", "-f", again, "--prune").out == "no changes\n"
    assert (
        scalar(clean_db, "SELECT rules->>'repeat_interval' FROM subscriptions WHERE name = 'pay'")
        == "1h"
    )


def test_prune_clears_people_settings_a_file_does_not_give(
    run: Run, people_file: str, secrets: Path, clean_db: Engine
) -> None:
    assert run("apply", "-f", people_file).code == 0
    without = write(secrets, PEOPLE.split("\npeople:")[0] + "\n", "without.yaml")
    kept = run("apply", "-f", without, "--dry-run")
    assert kept.out == "no changes\n", kept
    dry = run("apply", "-f", without, "--prune", "--dry-run")
    assert "~ people\n    email_via: ops-mail → -\n    slack_via: ops-slack-bot → -" in dry.out
    assert run("apply", "-f", without, "--prune").code == 0
    assert "email via - (none), slack via - (none)" in run("people", "show").out
    assert scalar(clean_db, "SELECT users FROM subscriptions WHERE name = 'pay-people'") == "all"


def test_rule_user_and_people_problems_name_their_line(
    run: Run, people_file: str, clean_db: Engine
) -> None:
    text = (
        PEOPLE.replace("payload.amount > 100", "payload.amount >")
        .replace("users: all", "users: nobody@example.com")
        .replace("slack_via: ops-slack-bot", "slack_via: ops-mail")
    )
    result = run("apply", "-f", write(Path(people_file).parent, text, "bad.yaml"))
    assert result.code == 2, result
    err = result.err
    assert "error: routing file not applied, 3 problems" in err, err
    assert "bad.yaml:18: subscriptions.pay.rules.filter: --filter" in err
    assert (
        "bad.yaml:24: subscriptions.pay-people.users: no user 'nobody@example.com'; "
        "see 'eventrouter users list'" in err
    )
    assert (
        "bad.yaml:25: people.slack_via: --slack-via: 'ops-mail' is a email destination; "
        "name a slack one" in err
    )
    assert scalar(clean_db, "SELECT count(*) FROM subscriptions") == 0
