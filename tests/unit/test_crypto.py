"""Secrets at rest: sealed values round-trip, rotate, and fail clearly with a wrong key."""

from __future__ import annotations

import json

import pytest

from eventrouter.router.crypto import SecretBox, generate_key, is_sealed, seal, unseal
from eventrouter.router.errors import ConfigError


def test_seal_encrypts_only_secret_fields_and_headers() -> None:
    box = SecretBox([generate_key()])
    config = {
        "url": "https://hooks.example.com/x",
        "secret": "whsec_abc",
        "headers": {"Authorization": "Bearer t0ken"},
        "timeout": 5,
    }
    paths = [("secret",), ("routing_key",), ("headers", "*")]
    sealed = seal(config, paths, box)
    assert sealed["url"] == config["url"] and sealed["timeout"] == 5
    assert is_sealed(sealed["secret"]) and is_sealed(sealed["headers"]["Authorization"])
    assert "whsec_abc" not in json.dumps(sealed) and "t0ken" not in json.dumps(sealed)
    assert unseal(sealed, box) == config
    assert seal(sealed, paths, box) == sealed  # sealing twice changes nothing


def test_seal_reaches_nested_and_listed_secrets() -> None:
    box = SecretBox([generate_key()])
    config = {
        "previous_secrets": [{"secret": "whsec_old1", "expires_at": "2026-01-01"}],
        "smtp": {"host": "mail.example.com", "password": "hunter22"},
    }
    sealed = seal(config, [("previous_secrets", "*", "secret"), ("smtp", "password")], box)
    text = json.dumps(sealed)
    assert "whsec_old1" not in text and "hunter22" not in text and "mail.example.com" in text
    assert unseal(sealed, box) == config


def test_rotation_old_key_still_decrypts_new_key_encrypts() -> None:
    old, new = generate_key(), generate_key()
    token = SecretBox([old]).encrypt("xoxb-123")
    rotated_box = SecretBox([new, old])
    assert rotated_box.decrypt(token) == "xoxb-123"
    rotated = rotated_box.rotate(token)
    assert SecretBox([new]).decrypt(rotated) == "xoxb-123"
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        SecretBox([old]).decrypt(rotated)


def test_bad_or_missing_key_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="EVENTROUTER_SECRET_KEY"):
        SecretBox.from_setting("")
    with pytest.raises(ConfigError, match="not a valid Fernet key"):
        SecretBox.from_setting("too-short")
