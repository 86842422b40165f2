"""Users' notification preferences: every statement on ``user_preferences``.

A user without a row has the defaults, so readers LEFT JOIN from ``users`` and never need
the row to exist: the router's ``load_many`` only reads; ``ensure`` (the API's first read)
writes the defaults once. A removed user's row goes with them (ON DELETE CASCADE), so a
user id that no longer answers is simply absent from ``load_many``.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from sqlalchemy import Connection, bindparam, text

from eventrouter.router.models.rules import QuietMode
from eventrouter.router.people.preferences import Preferences, QuietHours, UserPreferences

_SELECT = """
    SELECT u.id AS user_id, u.org, u.email, u.name, u.role, u.timezone,
           u.slack_user, u.slack_channel,
           p.email_enabled, p.slack_enabled, p.channels, p.email_address, p.slack_target,
           p.quiet_window, p.quiet_days, p.quiet_mode, p.digest, p.updated_at
    FROM users u LEFT JOIN user_preferences p ON p.user_id = u.id
"""
_LOAD_MANY = text(_SELECT + " WHERE u.id IN :ids").bindparams(bindparam("ids", expanding=True))
_LOAD_ONE = text(_SELECT + " WHERE u.org = :org AND u.id = :id")
# Keyset paging by user id, like the users list: every user, saved preferences or not.
_LIST = text(_SELECT + " WHERE u.org = :org AND u.id > :after_id ORDER BY u.id LIMIT :limit")
# The defaults, written once; a concurrent first read finds the row and does nothing.
_ENSURE = text(
    """
    INSERT INTO user_preferences (user_id)
    SELECT id FROM users WHERE org = :org AND id = :id
    ON CONFLICT (user_id) DO NOTHING
    """
)
_LOCK = text(_SELECT + " WHERE u.org = :org AND u.id = :id FOR UPDATE OF u")
# The whole row from the merged model: a partial update is merged in Python, under the
# user's row lock, so two concurrent updates of different fields both survive.
_SAVE = text(
    """
    INSERT INTO user_preferences AS p (
        user_id, email_enabled, slack_enabled, channels, email_address, slack_target,
        quiet_window, quiet_days, quiet_mode, digest)
    SELECT id, :email_enabled, :slack_enabled, CAST(:channels AS jsonb), :email_address,
           :slack_target, :quiet_window, :quiet_days, :quiet_mode, :digest
    FROM users WHERE org = :org AND id = :id
    ON CONFLICT (user_id) DO UPDATE SET
        email_enabled = EXCLUDED.email_enabled, slack_enabled = EXCLUDED.slack_enabled,
        channels = EXCLUDED.channels, email_address = EXCLUDED.email_address,
        slack_target = EXCLUDED.slack_target, quiet_window = EXCLUDED.quiet_window,
        quiet_days = EXCLUDED.quiet_days, quiet_mode = EXCLUDED.quiet_mode,
        digest = EXCLUDED.digest, updated_at = now()
    """
)


def load_many(conn: Connection, user_ids: Collection[int]) -> dict[int, UserPreferences]:
    """Each user's contact and preferences by id, in one statement (the router calls it once
    per batch). Ids of removed users are absent; users who never saved get the defaults."""
    if not user_ids:
        return {}
    rows = conn.execute(_LOAD_MANY, {"ids": list(set(user_ids))})
    return {row.user_id: _user_preferences(row._mapping) for row in rows}


def load(conn: Connection, org: str, user_id: int, *, lock: bool = False) -> UserPreferences | None:
    """One user's preferences (``None``: no such user in ``org``); ``lock`` holds the user's
    row until the transaction ends, for a read-modify-write."""
    row = conn.execute(_LOCK if lock else _LOAD_ONE, {"org": org, "id": user_id}).one_or_none()
    return None if row is None else _user_preferences(row._mapping)


def ensure(conn: Connection, org: str, user_id: int) -> UserPreferences | None:
    """One user's preferences, their row written with the defaults if it was missing."""
    conn.execute(_ENSURE, {"org": org, "id": user_id})
    return load(conn, org, user_id)


def save(conn: Connection, org: str, user_id: int, prefs: Preferences) -> UserPreferences | None:
    """Store ``prefs`` as the user's whole preferences; ``None``: no such user in ``org``."""
    quiet = prefs.quiet_hours
    conn.execute(
        _SAVE,
        {
            "org": org,
            "id": user_id,
            "email_enabled": prefs.email_enabled,
            "slack_enabled": prefs.slack_enabled,
            "channels": json.dumps(prefs.channels),
            "email_address": prefs.email_address,
            "slack_target": prefs.slack_target,
            "quiet_window": quiet.window if quiet else None,
            "quiet_days": quiet.days if quiet else None,
            "quiet_mode": quiet.mode.value if quiet else None,
            "digest": prefs.digest,
        },
    )
    return load(conn, org, user_id)


def list_page(conn: Connection, org: str, *, after_id: int, limit: int) -> list[UserPreferences]:
    """The org's users with their preferences, by user id after ``after_id``."""
    rows = conn.execute(_LIST, {"org": org, "after_id": after_id, "limit": limit})
    return [_user_preferences(row._mapping) for row in rows]


def _user_preferences(row: Any) -> UserPreferences:
    prefs = Preferences()
    if row["updated_at"] is not None:  # a saved row; otherwise the defaults
        quiet = None
        if row["quiet_window"] is not None:
            quiet = QuietHours.model_construct(
                window=row["quiet_window"],
                days=row["quiet_days"],
                mode=QuietMode(row["quiet_mode"]),
            )
        prefs = Preferences.model_construct(
            email_enabled=row["email_enabled"],
            slack_enabled=row["slack_enabled"],
            channels=dict(row["channels"]),
            email_address=row["email_address"],
            slack_target=row["slack_target"],
            quiet_hours=quiet,
            digest=row["digest"],
        )
    return UserPreferences(
        user_id=row["user_id"],
        email=row["email"],
        name=row["name"],
        role=row["role"],
        timezone=row["timezone"],
        slack_user=row["slack_user"],
        slack_channel=row["slack_channel"],
        preferences=prefs,
        updated_at=row["updated_at"],
    )
