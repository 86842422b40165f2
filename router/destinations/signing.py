"""Standard Webhooks signatures (https://www.standardwebhooks.com).

A secret is ``whsec_`` + base64 of 24-64 random bytes. Each request carries
``webhook-id`` (the event id, the same on every attempt), ``webhook-timestamp`` (Unix
seconds at send time) and ``webhook-signature``: ``v1,<base64 HMAC-SHA256>`` of
``"{id}.{timestamp}.{body}"``, one per active secret, space-separated. During a rotation
the previous secret keeps co-signing until its grace period ends, so receivers can switch
secrets without dropping a request.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Iterable

PREFIX = "whsec_"
MIN_KEY_BYTES = 24
MAX_KEY_BYTES = 64
GENERATED_KEY_BYTES = 32


def generate_secret() -> str:
    """A fresh ``whsec_`` secret holding 32 random bytes."""
    return PREFIX + base64.b64encode(os.urandom(GENERATED_KEY_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The key bytes of a ``whsec_`` secret; ``ValueError`` says what is wrong."""
    if not secret.startswith(PREFIX):
        raise ValueError(
            "a signing secret starts with 'whsec_' followed by base64; let eventrouter make "
            "one (--generate-secret when adding, no --secret when rotating)"
        )
    encoded = secret.removeprefix(PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the part after 'whsec_' is not valid base64") from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise ValueError(
            f"a signing secret holds {MIN_KEY_BYTES}-{MAX_KEY_BYTES} bytes; this one has "
            f"{len(key)} (let eventrouter make one: --generate-secret, or rotate without --secret)"
        )
    return key


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``body``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: Iterable[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: one signature per secret, space-separated."""
    return " ".join(sign(secret_key(s), msg_id, timestamp, body) for s in secrets)
