"""Destination secrets at rest: Fernet-encrypted values inside the config JSON.

Only the secret values are encrypted, each as ``"enc:v1:<fernet token>"``, so the rest
of a destination's config stays readable with SQL. ``EVENTROUTER_SECRET_KEY`` holds one
or more comma-separated Fernet keys: the first encrypts, all decrypt, which is how a
key is rotated (add the new key first, run ``eventrouter db reencrypt``, drop the old).
Without the variable, the key file ``EVENTROUTER_SECRET_KEY_FILE`` (default
``~/.config/eventrouter/secret-key``) is read; ``eventrouter db upgrade`` creates it when
neither exists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from eventrouter.router.errors import ConfigError

PREFIX = "enc:v1:"


def generate_key() -> str:
    return Fernet.generate_key().decode()


def key_setting(secret_key: str | None, key_file: str) -> str | None:
    """The key(s) from ``EVENTROUTER_SECRET_KEY``, else from the key file if it exists."""
    if secret_key:
        return secret_key
    path = Path(key_file).expanduser()
    return path.read_text().strip() or None if path.is_file() else None


def write_key_file(key_file: str) -> Path:
    """Generate a key into ``key_file`` (mode 0600) and return its path."""
    path = Path(key_file).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=False)
    path.write_text(generate_key() + "\n")
    return path


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


def seal(config: Any, paths: Iterable[Sequence[str]], box: SecretBox) -> Any:
    """A copy of ``config`` with the strings at ``paths`` encrypted.

    A path lists keys from the root; ``"*"`` stands for every list item or map value,
    e.g. ``("headers", "*")`` or ``("previous_secrets", "*", "secret")``.
    """
    result = config
    for path in paths:
        result = _seal_at(result, tuple(path), box)
    return result


def has_secrets(config: Any, paths: Iterable[Sequence[str]]) -> bool:
    """Whether any of ``paths`` holds a non-empty string in ``config``."""
    return any(_values_at(config, tuple(path)) for path in paths)


def _seal_at(node: Any, path: tuple[str, ...], box: SecretBox) -> Any:
    if not path:
        if isinstance(node, str) and node and not is_sealed(node):
            return box.encrypt(node)
        return node
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(node, list):
            return [_seal_at(item, rest, box) for item in node]
        if isinstance(node, dict):
            return {key: _seal_at(value, rest, box) for key, value in node.items()}
        return node
    if isinstance(node, dict) and head in node:
        return {**node, head: _seal_at(node[head], rest, box)}
    return node


def _values_at(node: Any, path: tuple[str, ...]) -> list[str]:
    if not path:
        return [node] if isinstance(node, str) and node else []
    head, rest = path[0], path[1:]
    if head == "*":
        children = (
            node
            if isinstance(node, list)
            else (list(node.values()) if isinstance(node, dict) else [])
        )
        return [v for child in children for v in _values_at(child, rest)]
    if isinstance(node, dict) and head in node:
        return _values_at(node[head], rest)
    return []


def unseal(config: Any, box: SecretBox) -> Any:
    """``config`` with every encrypted value decrypted, at any depth."""
    if isinstance(config, dict):
        return {k: unseal(v, box) for k, v in config.items()}
    if isinstance(config, list):
        return [unseal(v, box) for v in config]
    if is_sealed(config):
        return box.decrypt(config)
    return config


@lru_cache(maxsize=8)
def _box(keys: str) -> SecretBox:
    return SecretBox.from_setting(keys)


class _HasKeys(Protocol):
    @property
    def secret_keys(self) -> str | None: ...


def box_for(settings: _HasKeys) -> SecretBox | None:
    """The box for the configured key(s), or ``None`` when no key is configured."""
    keys = settings.secret_keys
    return _box(keys) if keys else None


def require_box(settings: _HasKeys) -> SecretBox:
    box = box_for(settings)
    if box is None:
        raise ConfigError(
            "destination secrets are stored encrypted and no key is configured: run "
            "'eventrouter db upgrade' (it creates one) or set EVENTROUTER_SECRET_KEY"
        )
    return box


def reveal(config: Any, settings: _HasKeys) -> Any:
    """``config`` decrypted; a ``ConfigError`` if it holds secrets and no key is set."""
    if not _any_sealed(config):
        return config
    return unseal(config, require_box(settings))


def _any_sealed(node: Any) -> bool:
    if isinstance(node, dict):
        return any(_any_sealed(v) for v in node.values())
    if isinstance(node, list):
        return any(_any_sealed(v) for v in node)
    return is_sealed(node)
