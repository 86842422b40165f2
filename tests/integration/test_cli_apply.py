"""Configuration as code through the CLI (issue 15 part 2): apply, dry-run, prune, export,
schema, against real Postgres."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
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
