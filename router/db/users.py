"""Users: every statement the control plane runs on them, scoped to one org.

Emails are unique per org whatever their case (a unique index on ``lower(email)``): an insert
that meets a taken email does nothing and says so (``None``), without a race between check
and insert.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from eventrouter.router.models.people import User, UserIn

_COLUMNS = "id, org, email, name, role, timezone, slack_user, slack_channel, created_at"

_INSERT = text(
    f"""
    INSERT INTO users (org, email, name, role, timezone, slack_user, slack_channel)
    VALUES (:org, :email, :name, :role, :timezone, :slack_user, :slack_channel)
    ON CONFLICT (org, lower(email)) DO NOTHING
    RETURNING {_COLUMNS}
    """
)
# Keyset paging by id: a page costs the same however deep it is.
_LIST = text(
    f"""
    SELECT {_COLUMNS} FROM users
    WHERE org = :org AND id > :after_id
    ORDER BY id
    LIMIT :limit
    """
)
_FIND = text(f"SELECT {_COLUMNS} FROM users WHERE org = :org AND lower(email) = lower(:email)")
_FIND_FOR_UPDATE = text(
    f"SELECT {_COLUMNS} FROM users WHERE org = :org AND lower(email) = lower(:email) FOR UPDATE"
)
_FIND_BY_ID = text(f"SELECT {_COLUMNS} FROM users WHERE org = :org AND id = :id")
# Every field a change may set, written from the merged user (the service merges under the
# row lock it took reading it).
_UPDATE = text(
    f"""
    UPDATE users SET role = :role, name = :name, timezone = :timezone,
        slack_user = :slack_user, slack_channel = :slack_channel, updated_at = now()
    WHERE org = :org AND id = :id
    RETURNING {_COLUMNS}
    """
)
_SET_TIMEZONE = text(
    f"""
    UPDATE users SET timezone = :timezone, updated_at = now()
    WHERE org = :org AND id = :id
    RETURNING {_COLUMNS}
    """
)
# The user's tokens go with them (ON DELETE CASCADE).
_DELETE = text("DELETE FROM users WHERE org = :org AND lower(email) = lower(:email) RETURNING id")
_COUNT_ADMINS = text("SELECT count(*) FROM users WHERE org = :org AND role = 'admin'")


def insert_user(conn: Connection, org: str, user: UserIn) -> User | None:
    """The new user, or ``None`` when ``email`` is taken in ``org``."""
    row = conn.execute(_INSERT, {"org": org, **user.model_dump()}).one_or_none()
    return None if row is None else User.model_validate(row._mapping)


def list_users(conn: Connection, org: str, *, after_id: int, limit: int) -> list[User]:
    rows = conn.execute(_LIST, {"org": org, "after_id": after_id, "limit": limit})
    return [User.model_validate(row._mapping) for row in rows]


def find_user(conn: Connection, org: str, email: str, *, lock: bool = False) -> User | None:
    query = _FIND_FOR_UPDATE if lock else _FIND
    row = conn.execute(query, {"org": org, "email": email}).one_or_none()
    return None if row is None else User.model_validate(row._mapping)


def find_user_by_id(conn: Connection, org: str, user_id: int) -> User | None:
    row = conn.execute(_FIND_BY_ID, {"org": org, "id": user_id}).one_or_none()
    return None if row is None else User.model_validate(row._mapping)


def update_user(conn: Connection, user: User) -> User:
    """Write ``user``'s changeable fields (a user the caller read, then changed)."""
    fields = ("role", "name", "timezone", "slack_user", "slack_channel")
    params = {"org": user.org, "id": user.id, **{f: getattr(user, f) for f in fields}}
    row = conn.execute(_UPDATE, params).one()
    return User.model_validate(row._mapping)


def set_timezone(conn: Connection, org: str, user_id: int, timezone: str | None) -> User | None:
    params = {"org": org, "id": user_id, "timezone": timezone}
    row = conn.execute(_SET_TIMEZONE, params).one_or_none()
    return None if row is None else User.model_validate(row._mapping)


def delete_user(conn: Connection, org: str, email: str) -> bool:
    return conn.execute(_DELETE, {"org": org, "email": email}).scalar() is not None


def count_admins(conn: Connection, org: str) -> int:
    return int(conn.execute(_COUNT_ADMINS, {"org": org}).scalar_one())
