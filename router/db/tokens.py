"""API tokens: every statement the control plane runs on them.

Only a hash of each token is stored. Authentication reads one row by ``public_id`` (a unique
index) with the role it acts with now: a user token's role is its user's, joined here, so a
change of role or the removal of a user takes effect on the next request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text

from eventrouter.router.models.people import Token

# The role a token acts with: its own (service tokens) or its user's, now.
_SELECT = """
    SELECT t.id, t.org, 'er_' || t.public_id AS prefix, t.name, u.email AS "user", t.service,
           COALESCE(t.role, u.role) AS role, t.created_at, t.expires_at, t.revoked_at,
           t.last_used_at
    FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id
"""
_INSERT = text(
    """
    INSERT INTO api_tokens (org, public_id, secret_hash, name, user_id, service, role, expires_at)
    VALUES (:org, :public_id, :secret_hash, :name, :user_id, :service, :role, :expires_at)
    RETURNING id
    """
)
# Keyset paging by id, newest first.
_LIST = text(
    _SELECT
    + """
    WHERE t.org = :org AND (CAST(:before_id AS bigint) IS NULL OR t.id < :before_id)
    ORDER BY t.id DESC
    LIMIT :limit
    """
)
_GET = text(_SELECT + " WHERE t.org = :org AND t.id = :id")
# Idempotent: revoking a revoked token keeps the first revocation time.
_REVOKE = text(
    """
    UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now())
    WHERE org = :org AND id = :id
    RETURNING id
    """
)
_CREDENTIAL = text(
    """
    SELECT t.id, t.org, t.secret_hash, t.user_id, COALESCE(t.role, u.role) AS role,
           t.expires_at, t.revoked_at, t.last_used_at, now() AS now
    FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id
    WHERE t.public_id = :public_id
    """
)
# The caller writes it at most once a minute; the condition keeps concurrent requests from
# writing it twice.
_TOUCH = text(
    """
    UPDATE api_tokens SET last_used_at = now()
    WHERE id = :id AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
    """
)


@dataclass(frozen=True, slots=True)
class Credential:
    """What authentication needs to know about one token."""

    id: int
    org: str
    secret_hash: bytes
    user_id: int | None
    role: str
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    now: datetime


def insert_token(
    conn: Connection,
    *,
    org: str,
    public_id: str,
    secret_hash: bytes,
    name: str,
    user_id: int | None,
    service: str | None,
    role: str | None,
    expires_at: datetime | None,
) -> int:
    params = {
        "org": org,
        "public_id": public_id,
        "secret_hash": secret_hash,
        "name": name,
        "user_id": user_id,
        "service": service,
        "role": role,
        "expires_at": expires_at,
    }
    return int(conn.execute(_INSERT, params).scalar_one())


def list_tokens(conn: Connection, org: str, *, before_id: int | None, limit: int) -> list[Token]:
    rows = conn.execute(_LIST, {"org": org, "before_id": before_id, "limit": limit})
    return [Token.model_validate(row._mapping) for row in rows]


def get_token(conn: Connection, org: str, token_id: int) -> Token | None:
    row = conn.execute(_GET, {"org": org, "id": token_id}).one_or_none()
    return None if row is None else Token.model_validate(row._mapping)


def revoke_token(conn: Connection, org: str, token_id: int) -> bool:
    return conn.execute(_REVOKE, {"org": org, "id": token_id}).scalar() is not None


def credential(conn: Connection, public_id: str) -> Credential | None:
    row = conn.execute(_CREDENTIAL, {"public_id": public_id}).one_or_none()
    return None if row is None else Credential(**row._mapping)


def touch_token(conn: Connection, token_id: int) -> None:
    conn.execute(_TOUCH, {"id": token_id})
