"""The dashboard's session cookie: the API token a person signed in with, their CSRF token
and time zone, encrypted and authenticated with Fernet.

The token itself is kept (encrypted) rather than a copy of the role, so every request asks
the token service again: a revoked token or a changed role takes effect at the next click.
The cookie's key is derived from the first ``EVENTROUTER_SECRET_KEY`` (so every API process
of one install reads every other's cookies); without one, a random key per process means
signing in again after a restart.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass, field

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

COOKIE = "eventrouter_session"
TTL_SECONDS = 12 * 3600
"""A session lasts a working day; then the person signs in again."""


@dataclass(slots=True)
class Session:
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    token: str | None = None
    timezone: str | None = None
    """The person's time zone (IANA name); ``None``: the browser's."""
    changed: bool = True
    """Whether the cookie must be written again."""

    def sign_in(self, token: str) -> None:
        """A new CSRF token too: one seen before signing in is worth nothing after."""
        self.token = token
        self.csrf = secrets.token_urlsafe(32)
        self.changed = True

    def sign_out(self) -> None:
        self.token = None
        self.csrf = secrets.token_urlsafe(32)
        self.changed = True


def session_key(secret_keys: str | None) -> bytes:
    """A Fernet key for cookies, derived from (never equal to) the first secret key."""
    if not secret_keys:
        return Fernet.generate_key()
    first = secret_keys.split(",")[0].strip().encode()
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"eventrouter dashboard session"
    ).derive(first)
    return base64.urlsafe_b64encode(derived)


class SessionCodec:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def dump(self, session: Session) -> str:
        data = {"c": session.csrf, "t": session.token, "z": session.timezone}
        return self._fernet.encrypt(json.dumps(data).encode()).decode()

    def load(self, cookie: str | None) -> Session:
        """The session in ``cookie``; a fresh one when it is missing, forged or expired."""
        if not cookie:
            return Session()
        try:
            data = json.loads(self._fernet.decrypt(cookie.encode(), ttl=TTL_SECONDS))
        except (InvalidToken, ValueError):
            return Session()
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return Session()
        token, timezone = data.get("t"), data.get("z")
        return Session(
            csrf=data["c"],
            token=token if isinstance(token, str) else None,
            timezone=timezone if isinstance(timezone, str) else None,
            changed=False,
        )
