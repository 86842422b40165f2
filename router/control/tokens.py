"""API tokens: created for a user or a service, listed (never shown again), revoked; and
``authenticate``, which turns a bearer token into a ``Caller`` or refuses it.

A token is ``er_`` + a 12-character public id + 43 characters of base64url from 32 random
bytes. The database keeps the public id (to find the row) and a SHA-256 of the whole token,
compared in constant time: a stolen database holds nothing that authenticates.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from eventrouter.router.control import cursor
from eventrouter.router.control.caller import Caller, Role
from eventrouter.router.control.service import Service
from eventrouter.router.control.users import check_email, no_user, parse_role
from eventrouter.router.control.validation import check_object_name
from eventrouter.router.db import tokens as store
from eventrouter.router.db import translating_errors
from eventrouter.router.db import users as user_store
from eventrouter.router.durations import parse_duration
from eventrouter.router.errors import ConfigError, NotFound, Unauthorized
from eventrouter.router.models.base import Page
from eventrouter.router.models.people import Token, TokenCreated, TokenIn
from eventrouter.router.settings import Settings

PREFIX = "er_"
SECRET_BYTES = 32
TOKEN = re.compile(r"er_([0-9a-f]{12})[A-Za-z0-9_-]{43}")
MAX_LIFETIME = timedelta(days=3650)
MAX_LABEL = 200
TOUCH_EVERY = timedelta(minutes=1)
"""``last_used_at`` is written at most this often: a busy producer's requests read only."""
_NO_MATCH = hashlib.sha256(b"no token has this hash").digest()


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_token() -> tuple[str, str]:
    """A fresh token and its public id."""
    public_id = secrets.token_hex(6)
    return f"{PREFIX}{public_id}{secrets.token_urlsafe(SECRET_BYTES)}", public_id


def parse_lifetime(text: str | None) -> timedelta | None:
    """``90d``, ``12h``… as a ``timedelta``; ``never`` (or ``None``) for no expiry."""
    if text is None or text.strip().lower() == "never":
        return None
    try:
        seconds = parse_duration(text)
    except ValueError as exc:
        raise ConfigError(f"bad expiry: {exc}, or 'never'", field=("expires_in",)) from None
    if not 0 < seconds <= MAX_LIFETIME.total_seconds():
        raise ConfigError(
            f"bad expiry {text!r}: give more than 0 and at most 3650d, or 'never'",
            field=("expires_in",),
        )
    return timedelta(seconds=seconds)


def no_token(token_id: int) -> NotFound:
    return NotFound(f"no token with id {token_id}; see 'eventrouter tokens list'")


class Tokens(Service):
    def create(self, spec: TokenIn) -> TokenCreated:
        """A new token; the answer is the only place it ever appears."""
        self.caller.require(Role.ADMIN, "creating a token")
        if (spec.user is None) == (spec.service is None):
            raise ConfigError(
                "a token is for one user or one service: give user (--user EMAIL) "
                "or service (--service NAME)"
            )
        if len(spec.name) > MAX_LABEL or any(ch < " " for ch in spec.name):
            raise ConfigError(
                f"a token's name is at most {MAX_LABEL} printable characters", field=("name",)
            )
        lifetime = parse_lifetime(spec.expires_in)
        role: Role | None = None
        if spec.service is not None:
            check_object_name("service", spec.service, field="service")
            role = parse_role(spec.role or Role.DEVELOPER.value)
        elif spec.role is not None:
            raise ConfigError(
                "a user's token acts with the user's role; give --role to services",
                field=("role",),
            )
        token, public_id = new_token()
        with self.transaction() as conn:
            user_id = None
            if spec.user is not None:
                user = user_store.find_user(conn, self.org, check_email(spec.user))
                if user is None:
                    raise no_user(spec.user)
                user_id = user.id
            now = conn.exec_driver_sql("SELECT now()").scalar_one()
            token_id = store.insert_token(
                conn,
                org=self.org,
                public_id=public_id,
                secret_hash=token_hash(token),
                name=spec.name,
                user_id=user_id,
                service=spec.service,
                role=None if role is None else role.value,
                expires_at=None if lifetime is None else now + lifetime,
            )
            created = store.get_token(conn, self.org, token_id)
        assert created is not None  # inserted above, in the same transaction
        return TokenCreated(**created.model_dump(), token=token)

    def list(self, *, limit: int = 20, cursor_token: str | None = None) -> Page[Token]:
        """The org's tokens, newest first, revoked and expired ones included."""
        self.caller.require(Role.ADMIN, "listing tokens")
        cursor.check_limit(limit)
        before_id = cursor.decode_id(cursor_token) if cursor_token else None
        with self.transaction() as conn:
            rows = store.list_tokens(conn, self.org, before_id=before_id, limit=limit + 1)
        return cursor.next_page(rows, limit, lambda token: [token.id])

    def get(self, token_id: int) -> Token:
        self.caller.require(Role.ADMIN, "reading a token")
        with self.transaction() as conn:
            found = store.get_token(conn, self.org, token_id)
        if found is None:
            raise no_token(token_id)
        return found

    def revoke(self, token_id: int) -> Token:
        """Revoke a token: refused from its next request on. Repeating it changes nothing."""
        self.caller.require(Role.ADMIN, "revoking a token")
        with self.transaction() as conn:
            if not store.revoke_token(conn, self.org, token_id):
                raise no_token(token_id)
            found = store.get_token(conn, self.org, token_id)
        assert found is not None  # revoked above, in the same transaction
        return found


def authenticate(engine: Engine, settings: Settings, token: str | None) -> Caller:
    """The ``Caller`` a bearer token acts as, or ``Unauthorized`` saying why not.

    The one place a token is checked: the HTTP API, the dashboard's sign-in and Slack's
    endpoints all call it.
    """
    if not token:
        raise Unauthorized("missing bearer token: send the header 'Authorization: Bearer er_…'")
    match = TOKEN.fullmatch(token)
    if match is None:
        raise Unauthorized("malformed token: an eventrouter token starts with 'er_'")
    # Autocommit: one statement, no BEGIN/COMMIT round trips on every request.
    with translating_errors(settings.database_url), engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        found = store.credential(conn, match.group(1))
        # Compare even when no row was found, so timing tells nothing about public ids.
        same = hmac.compare_digest(token_hash(token), found.secret_hash if found else _NO_MATCH)
        if found is None or not same:
            raise Unauthorized("unknown token; create one with 'eventrouter tokens create'")
        if found.revoked_at is not None:
            raise Unauthorized(f"token revoked at {utc(found.revoked_at):%Y-%m-%d %H:%M:%S} UTC")
        if found.expires_at is not None and found.expires_at <= found.now:
            raise Unauthorized(f"token expired at {utc(found.expires_at):%Y-%m-%d %H:%M:%S} UTC")
        if found.last_used_at is None or found.now - found.last_used_at > TOUCH_EVERY:
            store.touch_token(conn, found.id)
    return Caller(org=found.org, role=Role(found.role), user_id=found.user_id)
