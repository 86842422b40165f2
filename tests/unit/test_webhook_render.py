"""Webhook config validation and request rendering (pure: no request is sent)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from pydantic import ValidationError

from eventrouter.router.destinations import KINDS, validate_config
from eventrouter.router.destinations.base import excerpt
from eventrouter.router.destinations.webhook import (
    USER_AGENT,
    WebhookConfig,
    check_http_url,
    default_body,
    render_body,
    request_headers,
)
from eventrouter.router.errors import ConfigError
from eventrouter.router.events import Event, new_event_id


def make_event(**overrides: Any) -> Event:
    fields: dict[str, Any] = {
        "id": new_event_id(),
        "name": "payment:failed",
        "org": "acme",
        "env": "prod",
        "payload": {"invoice": "in_1", "amount": 4200},
        "published_at": 1_767_225_600.25,  # 2026-01-01T00:00:00.25Z
    }
    fields.update(overrides)
    return Event(**fields)


# -- config validation ------------------------------------------------------------------
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "https://example.com/hook?x=1",
        "https://example.com",
        "http://[::1]:9000/",
    ],
)
def test_valid_urls(url: str) -> None:
    assert WebhookConfig(url=url).url == url


@pytest.mark.parametrize(
    "url",
    [
        "",
        "example.com/hook",
        "ftp://example.com/hook",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "http://",
        "http:///path",
        "https://:443/x",
    ],
)
def test_non_http_urls_are_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="is not an http"):
        WebhookConfig(url=url)


def test_bad_port_is_refused() -> None:
    with pytest.raises(ValueError, match="invalid port"):
        check_http_url("http://example.com:99999/hook")
    with pytest.raises(ValidationError, match="invalid port"):
        WebhookConfig(url="http://example.com:notaport/")


def test_defaults() -> None:
    config = WebhookConfig(url="https://example.com/hook")
    assert config.method == "POST"
    assert config.headers == {}
    assert config.timeout is None


def test_method_put_allowed_others_not() -> None:
    assert WebhookConfig(url="https://e.com", method="PUT").method == "PUT"
    with pytest.raises(ValidationError):
        WebhookConfig(url="https://e.com", method="GET")  # type: ignore[arg-type]


@pytest.mark.parametrize("timeout", [0, -1, 301])
def test_timeout_bounds(timeout: float) -> None:
    with pytest.raises(ValidationError, match="timeout"):
        WebhookConfig(url="https://e.com", timeout=timeout)


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        WebhookConfig.model_validate({"url": "https://e.com", "uri": "https://e.com"})


@pytest.mark.parametrize("name", ["Bad Header", "X:Colon", "", "Ünicode", "X\r\nInjected", "a/b"])
def test_bad_header_names_are_refused(name: str) -> None:
    with pytest.raises(ValidationError, match="header name"):
        WebhookConfig(url="https://e.com", headers={name: "v"})


@pytest.mark.parametrize("name", ["Content-Type", "content-length", "HOST", "Webhook-Id"])
def test_reserved_headers_cannot_be_overridden(name: str) -> None:
    with pytest.raises(ValidationError, match="set by eventrouter"):
        WebhookConfig(url="https://e.com", headers={name: "x"})


@pytest.mark.parametrize("value", ["a\r\nX-Evil: 1", "a\nb", "a\rb"])
def test_line_breaks_in_header_values_are_refused(value: str) -> None:
    with pytest.raises(ValidationError, match="line break"):
        WebhookConfig(url="https://e.com", headers={"X-Token": value})


def test_validate_config_turns_errors_into_one_config_error_line() -> None:
    with pytest.raises(ConfigError, match=r"invalid webhook destination url: .*not an http"):
        validate_config("webhook", {"url": "ftp://e.com"})
    with pytest.raises(ConfigError, match="invalid webhook destination url: Field required"):
        validate_config("webhook", {})
    with pytest.raises(ConfigError, match="unknown destination type 'fax'"):
        validate_config("fax", {"url": "https://e.com"})
    assert isinstance(validate_config("webhook", {"url": "https://e.com"}), WebhookConfig)


def test_webhook_kind_is_registered() -> None:
    assert KINDS["webhook"].config_model is WebhookConfig


# -- rendering ----------------------------------------------------------------------------
def test_default_body_shape() -> None:
    event = make_event()
    body = default_body(event)
    assert list(body) == ["id", "name", "org", "env", "timestamp", "payload"]
    assert body == {
        "id": event.id,
        "name": "payment:failed",
        "org": "acme",
        "env": "prod",
        "timestamp": "2026-01-01T00:00:00.250000Z",
        "payload": {"invoice": "in_1", "amount": 4200},
    }
    json.dumps(body)  # serialisable as is


def test_a_claimed_events_payload_text_is_sent_as_it_came() -> None:
    """A worker's event carries the payload as Postgres's text of it: the default body
    splices that text in (no decode, no re-encode) and says the same as the dict body."""
    text = '{"amount": 4200, "invoice": "in_1", "caf\u00e9": [1.50, null]}'
    claimed = make_event(payload=None, payload_json=text, notice={"state": "firing"})
    body = render_body(claimed, WebhookConfig(url="https://e.com"))
    assert body.endswith(b',"payload":' + text.encode() + b"}")
    decoded = make_event(payload=json.loads(text), id=claimed.id, notice={"state": "firing"})
    assert json.loads(body) == default_body(decoded)
    assert json.loads(body)["state"] == "firing"


def test_a_payload_given_as_text_is_decoded_on_first_use() -> None:
    event = make_event(payload=None, payload_json='{"a": {"b": 2}}')
    assert event.payload == {"a": {"b": 2}} and event.payload is event.payload
    assert make_event(payload=None).payload == {}


def test_default_body_without_env() -> None:
    assert default_body(make_event(env=None))["env"] is None


def test_headers_carry_content_type_and_the_event_id() -> None:
    event = make_event()
    headers = request_headers(event, WebhookConfig(url="https://e.com"))
    assert headers["content-type"] == "application/json"
    assert headers["webhook-id"] == event.id
    assert headers["user-agent"] == USER_AGENT
    assert abs(int(headers["webhook-timestamp"]) - time.time()) <= 2


def test_same_event_gets_the_same_webhook_id_every_time() -> None:
    event = make_event()
    config = WebhookConfig(url="https://e.com")
    first, second = request_headers(event, config), request_headers(event, config)
    assert first["webhook-id"] == second["webhook-id"] == event.id
    assert request_headers(make_event(), config)["webhook-id"] != event.id


def test_custom_headers_are_added() -> None:
    config = WebhookConfig(url="https://e.com", headers={"Authorization": "Bearer t", "X-A": "1"})
    headers = request_headers(make_event(), config)
    assert headers["Authorization"] == "Bearer t"
    assert headers["X-A"] == "1"
    assert headers["content-type"] == "application/json"


def test_custom_user_agent_replaces_the_default_instead_of_adding_a_second() -> None:
    config = WebhookConfig(url="https://e.com", headers={"User-Agent": "mine/1"})
    headers = request_headers(make_event(), config)
    user_agents = [value for key, value in headers.items() if key.lower() == "user-agent"]
    assert user_agents == ["mine/1"]


# -- response excerpts ----------------------------------------------------------------------
def test_excerpt_keeps_short_text_and_cuts_long_text_on_a_character_boundary() -> None:
    assert excerpt("short", 10) == "short"
    cut = excerpt("é" * 10, 5)  # 2 bytes each: 5 bytes hold two whole characters
    assert cut == "éé…[truncated]"
    assert excerpt("", 0) == ""
