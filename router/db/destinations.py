"""Destinations: every statement the control plane runs on them, their config kept sealed
(secrets encrypted; the services seal and reveal). Scoped to one org; a taken name makes an
insert do nothing and say so (``None``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text


@dataclass(frozen=True, slots=True)
class StoredDestination:
    """A destination row as stored: its config still sealed (secrets encrypted)."""

    id: int
    name: str
    kind: str
    config: dict[str, Any]
    enabled: bool
    disabled_reason: str | None
    retry_schedule: str | None
    created_at: datetime


_INSERT_DESTINATION = text(
    """
    INSERT INTO destinations (org, name, kind, config, retry_schedule)
    VALUES (:org, :name, :kind, CAST(:config AS jsonb), :retry_schedule)
    ON CONFLICT (org, name) DO NOTHING
    RETURNING id, created_at
    """
)
_DESTINATION_COLUMNS = (
    "id, name, kind, config, enabled, disabled_reason, retry_schedule, created_at"
)
_LIST_DESTINATIONS = text(
    f"""
    SELECT {_DESTINATION_COLUMNS} FROM destinations
    WHERE org = :org AND (CAST(:names AS text[]) IS NULL OR name = ANY(CAST(:names AS text[])))
    ORDER BY name
    """
)
# FOR UPDATE: a secret rotation reads, changes and writes back the config in one transaction.
_LOCK_DESTINATION = text(
    f"SELECT {_DESTINATION_COLUMNS} FROM destinations WHERE org = :org AND name = :name FOR UPDATE"
)
_SET_DESTINATION_ENABLED = text(
    """
    UPDATE destinations
    SET enabled = :enabled, updated_at = now(),
        disabled_reason = CASE WHEN :enabled THEN NULL ELSE :reason END
    WHERE org = :org AND name = :name
    RETURNING id
    """
)
_DELETE_DESTINATION = text("DELETE FROM destinations WHERE id = :id")
# Config and schedule in one statement; the row (and so its deliveries and history) stays.
_UPDATE_DESTINATION = text(
    """
    UPDATE destinations
    SET config = CAST(:config AS jsonb), retry_schedule = :retry_schedule, updated_at = now()
    WHERE id = :id
    """
)
_DESTINATION_USERS = text(
    """
    SELECT s.name FROM subscription_destinations sd
    JOIN subscriptions s ON s.id = sd.subscription_id
    WHERE sd.destination_id = :id ORDER BY s.name
    """
)
# Key rotation: every org's destinations, locked, so no config is rewritten twice at once.
_ALL_DESTINATION_CONFIGS = text("SELECT id, kind, config FROM destinations ORDER BY id FOR UPDATE")
_UPDATE_DESTINATION_CONFIG = text(
    "UPDATE destinations SET config = CAST(:config AS jsonb), updated_at = now() WHERE id = :id"
)


def insert_destination(
    conn: Connection,
    org: str,
    name: str,
    kind: str,
    sealed_config: dict[str, Any],
    retry_schedule: str | None,
) -> tuple[int, datetime] | None:
    """``(id, created_at)`` of the new destination, or ``None`` when ``name`` is taken."""
    params = {
        "org": org,
        "name": name,
        "kind": kind,
        "config": json.dumps(sealed_config),
        "retry_schedule": retry_schedule,
    }
    row = conn.execute(_INSERT_DESTINATION, params).one_or_none()
    return None if row is None else (int(row.id), row.created_at)


def _stored(row: Any) -> StoredDestination:
    return StoredDestination(
        row.id,
        row.name,
        row.kind,
        row.config,
        row.enabled,
        row.disabled_reason,
        row.retry_schedule,
        row.created_at,
    )


def list_destinations(
    conn: Connection, org: str, names: Sequence[str] | None = None
) -> list[StoredDestination]:
    """``org``'s destinations by name (only ``names`` when given)."""
    rows = conn.execute(
        _LIST_DESTINATIONS, {"org": org, "names": None if names is None else list(names)}
    )
    return [_stored(row) for row in rows]


def lock_destination(conn: Connection, org: str, name: str) -> StoredDestination | None:
    row = conn.execute(_LOCK_DESTINATION, {"org": org, "name": name}).one_or_none()
    return None if row is None else _stored(row)


def set_destination_enabled(
    conn: Connection, org: str, name: str, enabled: bool, reason: str
) -> int | None:
    """The destination's id, or ``None`` when there is none by that name."""
    params = {"org": org, "name": name, "enabled": enabled, "reason": reason}
    found = conn.execute(_SET_DESTINATION_ENABLED, params).scalar()
    return None if found is None else int(found)


def delete_destination(conn: Connection, destination_id: int) -> None:
    conn.execute(_DELETE_DESTINATION, {"id": destination_id})


def update_destination(
    conn: Connection,
    destination_id: int,
    sealed_config: dict[str, Any],
    retry_schedule: str | None,
) -> None:
    params = {
        "id": destination_id,
        "config": json.dumps(sealed_config),
        "retry_schedule": retry_schedule,
    }
    conn.execute(_UPDATE_DESTINATION, params)


def destination_users(conn: Connection, destination_id: int) -> list[str]:
    """Names of the subscriptions that send to the destination."""
    return [row.name for row in conn.execute(_DESTINATION_USERS, {"id": destination_id})]


def all_destination_configs(conn: Connection) -> list[tuple[int, str, dict[str, Any]]]:
    """``(id, kind, sealed config)`` of every destination of every org, locked."""
    return [(row.id, row.kind, row.config) for row in conn.execute(_ALL_DESTINATION_CONFIGS)]


def update_destination_config(
    conn: Connection, destination_id: int, sealed_config: dict[str, Any]
) -> None:
    conn.execute(
        _UPDATE_DESTINATION_CONFIG, {"id": destination_id, "config": json.dumps(sealed_config)}
    )


_SECRET_REFS = text("SELECT secret_refs FROM destinations WHERE id = :id")
_SET_SECRET_REFS = text(
    "UPDATE destinations SET secret_refs = CAST(:refs AS jsonb) WHERE id = :id"
    " AND secret_refs IS DISTINCT FROM CAST(:refs AS jsonb)"
)


def secret_refs(conn: Connection, destination_id: int) -> dict[str, Any]:
    """Where the destination's secrets came from (``apply``): config path → reference."""
    found = conn.execute(_SECRET_REFS, {"id": destination_id}).scalar()
    return dict(found or {})


def set_secret_refs(conn: Connection, destination_id: int, refs: dict[str, Any]) -> None:
    conn.execute(_SET_SECRET_REFS, {"id": destination_id, "refs": json.dumps(refs)})
