"""Secrets are found from the config models' ``Secret`` marker and masked as ``…last4``;
``destinations add`` options (declared by each kind) map onto its config and foreign options
are refused."""

from __future__ import annotations

from typing import Any

import pytest

from eventrouter.router.destinations import KINDS, build_config, redact, secret_paths
from eventrouter.router.errors import ConfigError


def test_every_credential_field_is_marked_secret() -> None:
    assert secret_paths("webhook") == [
        ("url",),
        ("headers", "*"),
        ("secret",),
        ("previous_secrets", "*", "secret"),
    ]
    assert secret_paths("slack") == [
        ("webhook_url",),
        ("bot_token",),
        ("signing_secret",),
        ("api_url",),
    ]
    assert secret_paths("pagerduty") == [("routing_key",), ("url",)]
    assert secret_paths("email") == [
        ("smtp", "password"),
        ("sendgrid", "api_key"),
        ("sendgrid", "api_url"),
    ]


def test_a_url_is_a_secret_only_when_it_carries_credentials() -> None:
    """Issue 17 (9): Teams, Discord and internal hooks put the secret in the URL."""
    plain = {"url": "https://hooks.example.com/x"}
    assert secret_paths("webhook", plain) == [
        ("headers", "*"),
        ("secret",),
        ("previous_secrets", "*", "secret"),
    ]
    for url in (
        "https://u:pw@h.example/x",
        "https://h.example/x?token=t0k",
        "https://h.example/x#k",
    ):
        assert ("url",) in secret_paths("webhook", {"url": url})
    nested = {"sendgrid": {"api_key": "SG.x", "api_url": "https://sg.example/?key=k"}}
    assert ("sendgrid", "api_url") in secret_paths("email", nested)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "https://user:pw@hooks.example.com:8443/x/y?token=t0k&a=1",
            "https://…@hooks.example.com:8443/x/y?…",
        ),
        ("https://hooks.example.com/x?sig=abc", "https://hooks.example.com/x?…"),
        ("http://admin@h.example/", "http://…@h.example/"),
        ("https://hooks.example.com/plain", "https://hooks.example.com/plain"),
        ("https://h.example/x#frag-secret", "https://h.example/x#…"),
    ],
)
def test_urls_are_masked_keeping_scheme_host_and_path(url: str, shown: str) -> None:
    assert redact("webhook", {"url": url})["url"] == shown
    assert redact("pagerduty", {"routing_key": "r" * 32, "url": url})["url"] == shown
    assert redact("slack", {"bot_token": "xoxb-1", "api_url": url})["api_url"] == shown


@pytest.mark.parametrize(
    ("kind", "config", "hidden"),
    [
        (
            "webhook",
            {
                "url": "https://x",
                "secret": "whsec_abcdefghijklmnop1234",
                "previous_secrets": [{"secret": "whsec_zzzzzzzzzzzzzzzzold9", "expires_at": "t"}],
                "headers": {"Authorization": "Bearer tok-secret-5678"},
            },
            ["abcdefghijklmnop", "zzzzzzzzzzzz", "tok-secret"],
        ),
        (
            "slack",
            {"webhook_url": "https://hooks.slack.com/services/T0/B0/sekritsekrit"},
            ["services/T0", "sekritsekrit"],
        ),
        ("slack", {"bot_token": "xoxb-111-222-abcdefgh", "channel": "C1"}, ["xoxb-111"]),
        (
            "pagerduty",
            {"routing_key": "0123456789abcdef0123456789abcdef"},
            ["0123456789abcdef0123"],
        ),
        (
            "email",
            {
                "from_address": "a@b.co",
                "to": ["c@d.co"],
                "smtp": {"host": "h", "username": "u", "password": "hunter2hunter2"},
                "sendgrid": {"api_key": "SG.verysecretkey"},
            },
            ["hunter2", "verysecret"],
        ),
    ],
)
def test_redact_shows_only_the_last_four(
    kind: str, config: dict[str, Any], hidden: list[str]
) -> None:
    shown = repr(redact(kind, config))
    for fragment in hidden:
        assert fragment not in shown
    assert "…" in shown


def test_redact_keeps_the_rest_and_does_not_touch_the_input() -> None:
    config = {"routing_key": "0123456789abcdef0123456789abcdef", "severity": "info"}
    assert redact("pagerduty", config) == {"routing_key": "…cdef", "severity": "info"}
    assert config["routing_key"].startswith("0123")


def test_options_of_another_kind_are_refused() -> None:
    with pytest.raises(ConfigError, match="--channel does not apply to --type webhook"):
        build_config("webhook", {"url": "https://x", "channel": "C1"})
    with pytest.raises(ConfigError, match="--routing-key does not apply to --type email"):
        build_config("email", {"routing_key": "k"})


def test_email_options_build_nested_smtp_and_sendgrid() -> None:
    config = build_config(
        "email",
        {
            "from_address": "a@b.co",
            "to": ("c@d.co",),
            "smtp_host": "h",
            "smtp_port": 2525,
            "smtp_tls": "starttls",
            "username": "u",
            "password": "p",
            "sendgrid_api_key": "SG.k",
            "api_url": "http://127.0.0.1:1",
        },
    )
    assert config == {
        "from_address": "a@b.co",
        "to": ["c@d.co"],
        "smtp": {"host": "h", "port": 2525, "tls": "starttls", "username": "u", "password": "p"},
        "sendgrid": {"api_key": "SG.k", "api_url": "http://127.0.0.1:1"},
    }
    with pytest.raises(ConfigError, match="--smtp-port needs --smtp-host"):
        build_config("email", {"from_address": "a@b.co", "to": ("c@d.co",), "smtp_port": 25})


def test_template_file_and_headers(tmp_path: Any) -> None:
    path = tmp_path / "t.json"
    path.write_text('{"n": "${name}"}')
    config = build_config(
        "webhook",
        {
            "url": "https://x",
            "template": f"@{path}",
            "headers": ("A: 1", "B:two "),
            "method": "put",
        },
    )
    assert config == {
        "url": "https://x",
        "template": '{"n": "${name}"}',
        "headers": {"A": "1", "B": "two"},
        "method": "PUT",
    }
    with pytest.raises(ConfigError, match="cannot read template file"):
        build_config("webhook", {"url": "https://x", "template": "@/nonexistent.json"})
    with pytest.raises(ConfigError, match="must look like 'Name: value'"):
        build_config("webhook", {"url": "https://x", "headers": ("no colon",)})


def test_every_option_lands_on_a_field_of_its_kinds_config_model() -> None:
    """A kind's options and its config model cannot drift apart: each option's path names a
    field (nested models followed), so ``destinations add`` can set everything it offers."""
    for kind in KINDS.values():
        for option in kind.options:
            model = kind.config_model
            for key in option.config_path[:-1]:
                annotation = model.model_fields[key].annotation
                model = next(a for a in getattr(annotation, "__args__", (annotation,)) if a)
            assert option.config_path[-1] in model.model_fields, (kind.name, option.name)
