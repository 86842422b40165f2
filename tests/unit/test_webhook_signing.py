"""Standard Webhooks signing, checked with the public ``standardwebhooks`` library, and the
webhook's templates and headers (pure: no request is sent)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from eventrouter.router.destinations import validate_config
from eventrouter.router.destinations.signing import generate_secret, secret_key, sign
from eventrouter.router.destinations.webhook import WebhookConfig, render_body, signed_headers
from eventrouter.router.errors import ConfigError
from eventrouter.router.events import Event, new_event_id


def make_event(payload: dict[str, Any] | None = None) -> Event:
    return Event(
        id=new_event_id(),
        name="payment:failed",
        org="acme",
        env="prod",
        payload=payload if payload is not None else {"invoice": "in_1", "note": 'a "q" é\n'},
    )


def test_generated_secrets_are_whsec_with_32_random_bytes() -> None:
    first, second = generate_secret(), generate_secret()
    assert first.startswith("whsec_") and first != second
    assert len(secret_key(first)) == 32


@pytest.mark.parametrize(
    ("secret", "fragment"),
    [
        ("abc", "starts with 'whsec_'"),
        ("whsec_!!!notbase64", "not valid base64"),
        ("whsec_" + base64.b64encode(b"x" * 8).decode(), "24-64 bytes"),
        ("whsec_" + base64.b64encode(b"x" * 65).decode(), "24-64 bytes"),
    ],
)
def test_malformed_secrets_are_refused(secret: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        secret_key(secret)
    with pytest.raises(ConfigError, match="invalid webhook destination secret"):
        validate_config("webhook", {"url": "https://e.com", "secret": secret})


def test_signature_verifies_with_the_standard_webhooks_library() -> None:
    secret = generate_secret()
    config = WebhookConfig(url="https://e.com", secret=secret)
    event = make_event()
    body = render_body(event, config)
    headers = signed_headers(event, config, body)
    assert headers["webhook-signature"].startswith("v1,")
    assert Verifier(secret).verify(body, headers) == json.loads(body)
    with pytest.raises(WebhookVerificationError):
        Verifier(generate_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Verifier(secret).verify(body.replace(b"in_1", b"in_2"), headers)


def test_known_vector() -> None:
    # The example in the Standard Webhooks specification.
    key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    body = b'{"test": 2432232314}'
    assert (
        sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_rotation_co_signs_until_the_old_secret_expires() -> None:
    old, new = generate_secret(), generate_secret()
    now = datetime.now(UTC)
    config = WebhookConfig.model_validate(
        {
            "url": "https://e.com",
            "secret": new,
            "previous_secrets": [
                {"secret": old, "expires_at": (now + timedelta(hours=1)).isoformat()},
                {
                    "secret": generate_secret(),
                    "expires_at": (now - timedelta(seconds=1)).isoformat(),
                },
            ],
        }
    )
    event = make_event()
    body = render_body(event, config)
    headers = signed_headers(event, config, body, now)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Verifier(new).verify(body, headers)
    Verifier(old).verify(body, headers)
    later = signed_headers(event, config, body, now + timedelta(hours=2))
    assert len(later["webhook-signature"].split(" ")) == 1


def test_unsigned_without_a_secret() -> None:
    config = WebhookConfig(url="https://e.com")
    event = make_event()
    assert "webhook-signature" not in signed_headers(event, config, render_body(event, config))


def test_templated_body_and_custom_headers() -> None:
    config = WebhookConfig(
        url="https://e.com",
        template='{"text": "${name} in ${env}: ${payload.note}", "details": ${payload_json}}',
        headers={"X-Team": "payments"},
    )
    event = make_event()
    body = json.loads(render_body(event, config))
    assert body == {"text": 'payment:failed in prod: a "q" é\n', "details": event.payload}
    headers = signed_headers(event, config, b"{}")
    assert headers["X-Team"] == "payments"
    assert headers["content-type"] == "application/json"


@pytest.mark.parametrize("name", ["Webhook-Signature", "webhook-timestamp"])
def test_signature_headers_cannot_be_set_by_hand(name: str) -> None:
    with pytest.raises(ConfigError, match="cannot be overridden"):
        validate_config("webhook", {"url": "https://e.com", "headers": {name: "x"}})


def test_bad_template_is_refused_at_creation_with_the_spot() -> None:
    with pytest.raises(
        ConfigError, match=r"template: \$\{payload_json\} is an object slot.*column"
    ):
        validate_config("webhook", {"url": "https://e.com", "template": '{"x": "${payload_json}"}'})
