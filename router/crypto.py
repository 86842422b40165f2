"""Destination secrets at rest: Fernet-encrypted values inside the config JSON.

Only the secret values are encrypted, each as ``"enc:v1:<fernet token>"``, so the rest
of a destination's config stays readable with SQL. ``EVENTROUTER_SECRET_KEY`` holds one
or more comma-separated Fernet keys: the first encrypts, all decrypt, which is how a
key is rotated (add the new key first, run ``eventrouter db reencrypt``, drop the old).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from router.errors import ConfigError

PREFIX = "enc:v1:"


def generate_key() -> str:
    return Fernet.generate_key().decode()


class SecretBox:
    """Encrypts with the first key, decrypts with any of them."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ConfigError(
                "no secret key: set EVENTROUTER_SECRET_KEY (generate one with "
                "'eventrouter db upgrade' or Fernet.generate_key())"
            )
        try:
            self._fernet = MultiFernet([Fernet(key.strip().encode()) for key in keys])
        except (ValueError, TypeError):
            raise ConfigError(
                "EVENTROUTER_SECRET_KEY is not a valid Fernet key (32 url-safe base64 bytes)"
            ) from None

    @classmethod
    def from_setting(cls, value: str | None) -> SecretBox:
        return cls([k for k in (value or "").split(",") if k.strip()])

    def encrypt(self, plaintext: str) -> str:
        return PREFIX + self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, value: str) -> str:
        if not value.startswith(PREFIX):
            return value
        try:
            return self._fernet.decrypt(value[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise ConfigError(
                "a destination secret cannot be decrypted with EVENTROUTER_SECRET_KEY; "
                "was the key changed without keeping the old one in the list?"
            ) from None

    def rotate(self, value: str) -> str:
        """Re-encrypt ``value`` with the first key (plain values get encrypted)."""
        return self.encrypt(self.decrypt(value))


def is_sealed(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def seal(config: dict[str, Any], secret_fields: Iterable[str], box: SecretBox) -> dict[str, Any]:
    """A copy of ``config`` with the values of ``secret_fields`` (and every header) encrypted."""
    fields = set(secret_fields)
    sealed: dict[str, Any] = {}
    for key, value in config.items():
        if key == "headers" and isinstance(value, dict):
            sealed[key] = {k: _seal_value(v, box) for k, v in value.items()}
        elif key in fields:
            sealed[key] = _seal_value(value, box)
        else:
            sealed[key] = value
    return sealed


def unseal(config: Any, box: SecretBox) -> Any:
    """``config`` with every encrypted value decrypted, at any depth."""
    if isinstance(config, dict):
        return {k: unseal(v, box) for k, v in config.items()}
    if isinstance(config, list):
        return [unseal(v, box) for v in config]
    if is_sealed(config):
        return box.decrypt(config)
    return config


def _seal_value(value: Any, box: SecretBox) -> Any:
    if isinstance(value, str):
        return value if is_sealed(value) else box.encrypt(value)
    if isinstance(value, list):
        return [_seal_value(v, box) for v in value]
    if isinstance(value, dict):
        return {k: _seal_value(v, box) for k, v in value.items()}
    return value
