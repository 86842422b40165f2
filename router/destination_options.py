"""``eventrouter destinations add`` options → a destination config, per kind.

The CLI takes one flat set of options; this module says which apply to which ``--type``,
refuses the ones that do not (rather than silently ignoring them) and builds the config
dict that ``Admin.add_destination`` validates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eventrouter.router.destinations.signing import generate_secret
from eventrouter.router.errors import ConfigError

COMMON = frozenset({"timeout", "retry_schedule", "as_json"})
APPLIES = {
    "webhook": frozenset({"url", "method", "headers", "template", "secret", "generate_secret"}),
    "slack": frozenset(
        {"webhook_url", "bot_token", "channel", "api_url", "template", "rate_limit", "burst"}
    ),
    "pagerduty": frozenset({"routing_key", "severity", "region", "url", "source", "action_field"}),
    "email": frozenset(
        {
            "from_address",
            "to",
            "subject",
            "smtp_host",
            "smtp_port",
            "smtp_tls",
            "username",
            "password",
            "smtp_ca_file",
            "sendgrid_api_key",
            "api_url",
        }
    ),
}
FLAG_NAMES = {"from_address": "from", "headers": "header", "as_json": "json"}


def flag(option: str) -> str:
    return "--" + FLAG_NAMES.get(option, option).replace("_", "-")


def parse_header(value: str) -> tuple[str, str]:
    name, sep, header_value = value.partition(":")
    if not sep or not name.strip():
        raise ConfigError(f"--header {value!r} must look like 'Name: value'")
    return name.strip(), header_value.strip()


def read_template(value: str) -> str:
    """A template given inline, or ``@path`` to read it from a file."""
    if not value.startswith("@"):
        return value
    try:
        return Path(value[1:]).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read template file {value[1:]!r}: {exc.strerror}") from None


def check_applicable(kind: str, given: dict[str, Any]) -> None:
    for option in given:
        if option not in APPLIES[kind] and option not in COMMON:
            users = [k for k, opts in APPLIES.items() if option in opts]
            raise ConfigError(
                f"{flag(option)} does not apply to --type {kind} (it is for {', '.join(users)})"
            )


def build_config(kind: str, given: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """``(config, generated_secret)`` from the options given on the command line."""
    check_applicable(kind, given)
    opts = dict(given)
    config: dict[str, Any] = {}
    if "timeout" in opts:
        config["timeout"] = opts["timeout"]
    if "template" in opts:
        opts["template"] = read_template(opts["template"])
    generated = None
    if kind == "webhook":
        if "url" not in opts:
            raise ConfigError("a webhook destination needs --url")
        if "secret" in opts and opts.get("generate_secret"):
            raise ConfigError("give --secret or --generate-secret, not both")
        if opts.pop("generate_secret", False):
            generated = opts["secret"] = generate_secret()
        if "method" in opts:
            opts["method"] = opts["method"].upper()
        if "headers" in opts:
            opts["headers"] = dict(parse_header(h) for h in opts["headers"])
        config.update({k: opts[k] for k in APPLIES["webhook"] if k in opts})
    elif kind == "slack":
        if "webhook_url" not in opts and "bot_token" not in opts:
            raise ConfigError(
                "a slack destination needs --webhook-url, or --bot-token and --channel"
            )
        config.update({k: opts[k] for k in APPLIES["slack"] if k in opts})
    elif kind == "pagerduty":
        if "routing_key" not in opts:
            raise ConfigError("a pagerduty destination needs --routing-key (the Integration Key)")
        config.update({k: opts[k] for k in APPLIES["pagerduty"] if k in opts})
    else:
        config.update(_email(opts))
    return config, generated


def _email(opts: dict[str, Any]) -> dict[str, Any]:
    if "from_address" not in opts or not opts.get("to"):
        raise ConfigError("an email destination needs --from and at least one --to")
    config: dict[str, Any] = {"from_address": opts["from_address"], "to": list(opts["to"])}
    if "subject" in opts:
        config["subject"] = opts["subject"]
    smtp_keys = {
        "smtp_port": "port",
        "smtp_tls": "tls",
        "username": "username",
        "password": "password",
        "smtp_ca_file": "ca_file",
    }
    if "smtp_host" in opts:
        config["smtp"] = {"host": opts["smtp_host"]} | {
            key: opts[option] for option, key in smtp_keys.items() if option in opts
        }
    else:
        for option in smtp_keys:
            if option in opts:
                raise ConfigError(f"{flag(option)} needs --smtp-host")
    if "sendgrid_api_key" in opts:
        config["sendgrid"] = {"api_key": opts["sendgrid_api_key"]}
        if "api_url" in opts:
            config["sendgrid"]["api_url"] = opts["api_url"]
    elif "api_url" in opts:
        raise ConfigError("--api-url needs --sendgrid-api-key")
    return config


def describe_target(kind: str, config: dict[str, Any]) -> str:
    """One line saying where a (redacted) destination config sends."""
    if kind == "webhook":
        signed = ", signed" if config.get("secret") else ""
        return f"{config.get('method', 'POST')} {config.get('url', '')}{signed}"
    if kind == "slack":
        if config.get("channel"):
            return f"channel {config['channel']} (bot token {config.get('bot_token', '')})"
        return f"incoming webhook {config.get('webhook_url', '')}"
    if kind == "pagerduty":
        where = config.get("url") or f"Events API v2 ({config.get('region', 'us')})"
        return f"{where}, routing key {config.get('routing_key', '')}"
    if kind == "email":
        via = "+".join(k for k in ("sendgrid", "smtp") if config.get(k))
        smtp = config.get("smtp") or {}
        if smtp:
            via = via.replace(
                "smtp", f"smtp {smtp.get('host')}:{smtp.get('port')}/{smtp.get('tls')}"
            )
        return f"to {', '.join(config.get('to', []))} via {via}"
    return ""
