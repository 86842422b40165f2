"""The pure core of configuration as code: reading a routing file, planning, exporting."""

from __future__ import annotations

from typing import Any

import pytest

from eventrouter.router.control.routing_export import document, dump, json_schema
from eventrouter.router.control.routing_file import Routing, read
from eventrouter.router.control.routing_plan import plan
from eventrouter.router.control.routing_source import Path, RoutingFileError, parse

FILE = """\
channels:
  payments: {pattern: "payment:.*"}
destinations:
  hook:
    type: webhook
    url: https://ops.example.com/h
    headers: {Authorization: "${env:TOKEN}"}
subscriptions:
  s: {channels: [payments], destinations: [hook]}
"""


def resolve(reference: Any, _where: Path) -> tuple[Any, str | None]:
    return ("Bearer t0ken-value", None) if reference == "${env:TOKEN}" else (None, "unset")


def desired(text: str = FILE) -> Routing:
    source, problems = parse(text, "r.yaml")
    assert source is not None and not problems
    routing, problems = read([source], resolve)
    assert not problems, problems
    return routing


def test_a_new_file_adds_everything_and_again_changes_nothing() -> None:
    first = plan(desired(), Routing(), prune=False, system_channels=["delivery:failed"])
    assert [str(c) for c in first.changes] == [
        "+ channel payments",
        "+ destination hook",
        "+ subscription s",
    ]
    again = plan(desired(), desired(), prune=True, system_channels=[])
    assert again.changes == ()


def test_changes_are_shown_field_by_field_with_secrets_masked() -> None:
    changed = FILE.replace("payment:.*", "invoice:.*").replace("${env:TOKEN}", "Bearer n3w-0ther")
    result = plan(desired(changed), desired(), prune=False, system_channels=[])
    text = "\n".join(map(str, result.changes))
    assert "pattern: payment:.* → invoice:.*" in text
    assert "headers.Authorization: (secret changed)" in text and "n3w" not in text


def test_prune_removes_only_what_the_file_does_not_name() -> None:
    current = desired(FILE.replace("  payments:", "  old: {pattern: x}\n  payments:"))
    result = plan(desired(), current, prune=True, system_channels=["delivery:failed"])
    assert [str(c) for c in result.changes] == ["- channel old"]
    assert plan(desired(), current, prune=False, system_channels=[]).changes == ()


def test_every_problem_is_found_with_its_line() -> None:
    source, problems = parse(
        "channels:\n  a: {pattern: '(x'}\n  b: {patern: y}\nsubscriptions:\n"
        "  s: {channels: [a, nope], destinations: []}\n",
        "f.yaml",
    )
    assert source is not None
    routing, problems = read([source], resolve)
    with pytest.raises(RoutingFileError) as caught:
        plan(routing, Routing(), prune=False, system_channels=[], problems=problems)
    text = str(caught.value)
    assert "f.yaml:2: channels.a.pattern" in text
    assert "f.yaml:3: channels.b.patern: unknown setting" in text
    assert "f.yaml:5: subscriptions.s.destinations" in text


def test_export_writes_references_never_secrets() -> None:
    text = dump(document(desired()))
    assert "${env:TOKEN}" in text and "t0ken" not in text
    routing = desired()
    routing.destinations["hook"].secret_refs.clear()
    assert "${env:HOOK_HEADERS_AUTHORIZATION}" in dump(document(routing))


def test_the_schema_names_every_kind() -> None:
    kinds = json_schema()["properties"]["destinations"]["additionalProperties"]["oneOf"]
    assert {k["properties"]["type"]["const"] for k in kinds} == {
        "webhook",
        "slack",
        "pagerduty",
        "email",
    }
