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


PEOPLE_FILE = """\
channels:
  payments: {pattern: "payment:.*"}
destinations:
  hook:
    type: webhook
    url: https://ops.example.com/h
    headers: {Authorization: "${env:TOKEN}"}
  mail:
    type: email
    from_address: er@example.com
    to: [ops@example.com]
    smtp: {host: smtp.example.com}
subscriptions:
  s:
    channels: [payments]
    destinations: [hook]
    rules:
      filter: payload.amount > 100
      notify: on-change
      key: payload.order
      quiet_hours: 23:00-07:00
      timezone: Europe/Paris
    users: [role:Admin, Ana@Example.com]
    mandatory: true
  people-only: {channels: [payments], users: all}
people: {email_via: mail}
"""


def test_rules_users_and_people_are_read_normalised() -> None:
    routing = desired(PEOPLE_FILE)
    s = routing.subscriptions["s"]
    assert s.rules == {
        "filter": "payload.amount > 100",
        "notify": "on-change",
        "key": "payload.order",
        "quiet_hours": "23:00-07:00",
        "timezone": "Europe/Paris",
    }
    assert s.users == "role:admin,ana@example.com" and s.mandatory is True
    only = routing.subscriptions["people-only"]
    assert only.destinations == () and only.users == "all" and only.rules == {}
    assert routing.people is not None and routing.people.email_via == "mail"
    assert routing.people.slack_via is None


@pytest.mark.parametrize(
    ("body", "where", "message"),
    [
        ("rules: {filter: 'payload.x >'}", "subscriptions.s.rules.filter", "--filter"),
        ("rules: {quiet_hours: '23:00-07:00'}", "subscriptions.s.rules.quiet_hours", "--timezone"),
        ("rules: {filtr: x}", "subscriptions.s.rules.filtr", "rules: filtr: Extra inputs"),
        ("rules: {for_count: 0}", "subscriptions.s.rules.for_count", "greater than or equal"),
        ("rules: {resolve: true}", "subscriptions.s.rules.resolve", "need --notify on-change"),
        ("rules: [filter]", "subscriptions.s.rules", "must be a mapping"),
        ("users: 'role:boss'", "subscriptions.s.users", "unknown role 'boss' in --users"),
        ("users: ''", "subscriptions.s.users", "--users is empty"),
        ("mandatory: yes please", "subscriptions.s.mandatory", "must be true or false"),
    ],
)
def test_rules_and_people_are_checked_as_the_cli_checks_them(
    body: str, where: str, message: str
) -> None:
    people = "" if body.startswith("users") else "    users: all\n"
    text = f"channels:\n  c: {{pattern: x}}\nsubscriptions:\n  s:\n    channels: [c]\n{people}"
    source, problems = parse(f"{text}    {body}\n", "f.yaml")
    assert source is not None and not problems
    _, problems = read([source], resolve)
    assert len(problems) == 1, problems
    assert f"f.yaml:{6 if people == '' else 7}: {where}: " in str(problems[0])
    assert message in str(problems[0])


def test_a_subscription_needs_destinations_or_users() -> None:
    source, _ = parse("channels:\n  c: {pattern: x}\nsubscriptions:\n  s: {channels: [c]}\n", "f")
    assert source is not None
    _, problems = read([source], resolve)
    assert [p.message for p in problems] == [
        "a subscription needs a list of destinations (or users)"
    ]


def test_omitted_rules_and_people_replace_what_is_stored_and_are_shown() -> None:
    stored = desired(PEOPLE_FILE)
    head, tail = PEOPLE_FILE.split("    rules:\n")
    bare = head + tail.split("    mandatory: true\n")[1]
    result = plan(desired(bare), stored, prune=False, system_channels=[], users=[])
    assert [(c.action, c.noun, c.name) for c in result.changes] == [("change", "subscription", "s")]
    details = result.changes[0].details
    assert "users: role:admin,ana@example.com → -" in details
    assert "mandatory: true → false" in details
    assert "rules.filter: payload.amount > 100 → -" in details
    assert "rules.timezone: Europe/Paris → -" in details


def test_people_media_are_checked_against_the_file_and_what_is_stored() -> None:
    with pytest.raises(RoutingFileError) as caught:
        plan(
            desired(FILE + "people: {email_via: hook, slack_via: gone}\n"),
            Routing(),
            prune=False,
            system_channels=[],
        )
    text = str(caught.value)
    assert (
        "people.email_via: --email-via: 'hook' is a webhook destination; name a email one" in text
    )
    assert "people.slack_via: names 'gone', neither in the file nor stored" in text


def test_prune_without_people_clears_them_and_without_prune_leaves_them() -> None:
    stored = desired(PEOPLE_FILE)
    wanted = desired(PEOPLE_FILE.replace("people: {email_via: mail}\n", ""))
    assert wanted.people is None
    assert (
        plan(wanted, stored, prune=False, system_channels=[], users=["ana@example.com"]).changes
        == ()
    )
    pruned = plan(wanted, stored, prune=True, system_channels=[], users=["ana@example.com"])
    assert [str(c) for c in pruned.changes] == ["~ people\n    email_via: mail → -"]


def test_an_email_that_is_not_a_user_is_refused() -> None:
    with pytest.raises(RoutingFileError) as caught:
        plan(desired(PEOPLE_FILE), Routing(), prune=False, system_channels=[], users=[])
    assert "subscriptions.s.users: no user 'ana@example.com'; see 'eventrouter users list'" in str(
        caught.value
    )


def test_export_then_read_is_no_change_with_rules_users_and_people() -> None:
    stored = desired(PEOPLE_FILE)
    text = dump(document(stored))
    assert "people:\n  email_via: mail\n" in text and "mandatory: true" in text
    again = desired(text.replace("${env:HOOK_HEADERS_AUTHORIZATION}", "${env:TOKEN}"))
    assert (
        plan(again, stored, prune=True, system_channels=[], users=["ana@example.com"]).changes == ()
    )


def test_the_schema_knows_rules_users_and_people() -> None:
    schema = json_schema()
    subscription = schema["properties"]["subscriptions"]["additionalProperties"]
    assert {"rules", "users", "mandatory"} <= set(subscription["properties"])
    assert subscription["required"] == ["channels"]
    assert "filter" in schema["$defs"]["rules"]["properties"]
    assert set(schema["properties"]["people"]["properties"]) == {"email_via", "slack_via"}


def test_a_destination_keeps_its_type() -> None:
    slack = FILE.replace(
        "    type: webhook\n    url: https://ops.example.com/h\n"
        '    headers: {Authorization: "${env:TOKEN}"}\n',
        "    type: slack\n    webhook_url: https://hooks.slack.com/services/T0/B0/abcdefabcdef\n",
    )
    assert "type: slack" in slack
    with pytest.raises(RoutingFileError) as caught:
        plan(desired(slack), desired(), prune=False, system_channels=[])
    assert (
        "r.yaml:5: destinations.hook.type: the type of destination 'hook' cannot change; "
        "add a new destination" in str(caught.value)
    )
