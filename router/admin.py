"""Configuration and inspection operations, shared by the CLI and (later) the HTTP API.

Each operation runs in one transaction and either completes or raises ``ConfigError``
(or ``NotFound``) with a message meant for a person: nothing is ever half-written.
Routers notice every change within ``config_refresh_seconds`` through the
``config_version`` counter that triggers bump.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DataError, ProgrammingError

from eventrouter.router.crypto import box_for, has_secrets, require_box, reveal, seal, unseal
from eventrouter.router.db import sql, translating_errors
from eventrouter.router.destinations import redact, secret_paths, validate_config
from eventrouter.router.destinations.signing import generate_secret
from eventrouter.router.durations import format_duration, parse_schedule
from eventrouter.router.errors import ConfigError, NotFound
from eventrouter.router.netguard import UnsafeDestination, check_endpoints, parse_networks
from eventrouter.router.routing import compile_pattern
from eventrouter.router.settings import Settings

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,99}")
ENV = re.compile(r"[A-Za-z0-9:._\-/]{1,100}")
STATUSES = ("pending", "delivering", "succeeded", "failed", "cancelled")
TEST_EVENT = "eventrouter:test"
DEFAULT_GRACE_SECONDS = 24 * 3600.0


def check_name(kind: str, name: str) -> str:
    if not NAME.fullmatch(name):
        raise ConfigError(
            f"{kind} name {name!r} is invalid: use 1-100 letters, digits, '.', '_', ':' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_env(env: str | None) -> str | None:
    if env is not None and not ENV.fullmatch(env):
        raise ConfigError(f"env {env!r} is invalid: use 1-100 letters, digits and : . _ - /")
    return env


def _row(row: Any) -> dict[str, Any]:
    return dict(row._mapping)


class Admin:
    """Operations on one organisation's configuration and delivery log."""

    def __init__(self, engine: Engine, settings: Settings, *, org: str | None = None) -> None:
        self.engine = engine
        self.settings = settings
        self.org = org or settings.org

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with translating_errors(self.settings.database_url):
            try:
                with self.engine.begin() as conn:
                    yield conn
            except ProgrammingError as exc:
                if "does not exist" in str(exc.orig):
                    raise ConfigError(
                        "the database has no eventrouter schema; run 'eventrouter db upgrade'"
                    ) from exc
                raise

    @staticmethod
    def _insert_named(conn: Connection, statement: Any, params: dict[str, Any], noun: str) -> int:
        """Insert a named row; a taken name is a ``ConfigError`` (the statement does nothing)."""
        new_id = conn.execute(statement, params).scalar()
        if new_id is None:
            raise ConfigError(f"{noun} {params['name']!r} already exists; pick another name")
        return int(new_id)

    # -- channels ------------------------------------------------------------------
    def add_channel(
        self, name: str, pattern: str, *, env: str | None = None, description: str = ""
    ) -> dict[str, Any]:
        check_name("channel", name)
        check_env(env)
        try:
            compile_pattern(pattern)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        channel = {"name": name, "pattern": pattern, "env": env, "description": description}
        with self._tx() as conn:
            new_id = self._insert_named(
                conn, sql.INSERT_CHANNEL, {"org": self.org, **channel}, "channel"
            )
        return {"id": new_id, **channel}

    def list_channels(self) -> list[dict[str, Any]]:
        with self._tx() as conn:
            return [_row(r) for r in conn.execute(sql.LIST_CHANNELS, {"org": self.org})]

    def remove_channel(self, name: str) -> None:
        with self._tx() as conn:
            channel = self._channels(conn, [name])[0]
            if channel.is_system:
                raise ConfigError(f"channel {name!r} is a built-in system channel and read-only")
            users = [r.name for r in conn.execute(sql.CHANNEL_USERS, {"id": channel.id})]
            if users:
                raise ConfigError(
                    f"channel {name!r} is used by subscription(s) {', '.join(users)}; "
                    "remove those first"
                )
            conn.execute(sql.DELETE_CHANNEL, {"id": channel.id})

    def _channels(self, conn: Connection, names: Sequence[str]) -> list[Any]:
        rows = {
            r.name: r
            for r in conn.execute(sql.FIND_CHANNELS, {"names": list(names), "org": self.org})
        }
        missing = [n for n in names if n not in rows]
        if missing:
            raise NotFound(
                f"no channel named {', '.join(map(repr, missing))}; see 'eventrouter channels list'"
            )
        return [rows[n] for n in names]

    # -- destinations --------------------------------------------------------------
    def add_destination(
        self, name: str, kind: str, config: dict[str, Any], *, retry_schedule: str | None = None
    ) -> dict[str, Any]:
        check_name("destination", name)
        model = validate_config(kind, config)
        if retry_schedule is not None:
            try:
                delays = parse_schedule(retry_schedule)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            retry_schedule = ",".join(format_duration(d) for d in delays)
        stored = model.model_dump(mode="json", exclude_none=True)
        self._check_reachable(stored)
        with self._tx() as conn:
            params = {
                "org": self.org,
                "name": name,
                "kind": kind,
                "config": json.dumps(self._seal(kind, stored)),
                "retry_schedule": retry_schedule,
            }
            new_id = self._insert_named(conn, sql.INSERT_DESTINATION, params, "destination")
        return {
            "id": new_id,
            "name": name,
            "kind": kind,
            "config": redact(kind, stored),
            "retry_schedule": retry_schedule,
            "enabled": True,
        }

    def list_destinations(self) -> list[dict[str, Any]]:
        with self._tx() as conn:
            rows = [_row(r) for r in conn.execute(sql.LIST_DESTINATIONS, {"org": self.org})]
        for row in rows:
            row["config"] = redact(row["kind"], self._reveal(row["config"]))
            if row["retry_schedule"] is None:
                row["retry_schedule"] = f"default ({self.settings.retry_schedule})"
        return rows

    def _check_reachable(self, config: dict[str, Any]) -> None:
        """The SSRF guard at creation: no internal address unless allowed (workers check
        again, and pin the address, on every connection)."""
        try:
            check_endpoints(config, parse_networks(self.settings.allowed_networks))
        except UnsafeDestination as exc:
            raise ConfigError(f"destination refused: {exc}") from None

    def _seal(self, kind: str, config: dict[str, Any]) -> dict[str, Any]:
        """``config`` with its secrets encrypted (a key is needed only if it has any)."""
        paths = secret_paths(kind, config)
        if not has_secrets(config, paths):
            return config
        sealed: dict[str, Any] = seal(config, paths, require_box(self.settings))
        return sealed

    def _reveal(self, config: dict[str, Any]) -> dict[str, Any]:
        """Decrypted for masking, when this host has the key (else masked ciphertext)."""
        box = box_for(self.settings)
        return unseal(config, box) if box is not None else config

    def reencrypt_secrets(self) -> int:
        """Encrypt every destination's secrets (all orgs) with the first configured key.

        Run after putting a new key first in ``EVENTROUTER_SECRET_KEY``; also encrypts
        secrets stored before a key existed. Returns how many destinations it rewrote.
        """
        box = require_box(self.settings)
        count = 0
        with self._tx() as conn:
            for row in conn.execute(sql.ALL_DESTINATION_CONFIGS).fetchall():
                plain = unseal(row.config, box)
                config = seal(plain, secret_paths(row.kind, plain), box)
                if config != row.config:
                    conn.execute(
                        sql.UPDATE_DESTINATION_CONFIG, {"id": row.id, "config": json.dumps(config)}
                    )
                    count += 1
        return count

    def set_destination_enabled(self, name: str, enabled: bool) -> None:
        with self._tx() as conn:
            found = conn.execute(
                sql.SET_DESTINATION_ENABLED,
                {
                    "org": self.org,
                    "name": name,
                    "enabled": enabled,
                    "reason": "disabled by an operator",
                },
            ).scalar()
            if found is None:
                raise self._no_destination(name)
            if not enabled:
                conn.execute(
                    sql.CANCEL_OPEN_DELIVERIES,
                    {"destination_id": found, "reason": "destination disabled"},
                )

    def rotate_secret(
        self,
        name: str,
        *,
        secret: str | None = None,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
    ) -> dict[str, Any]:
        """Give webhook ``name`` a new signing secret; the old one co-signs for the grace period.

        Returns the new secret (generated unless given) and until when the old one signs.
        """
        if grace_seconds < 0:
            raise ConfigError("--grace cannot be negative")
        new_secret = secret or generate_secret()
        now = datetime.now(UTC)
        with self._tx() as conn:
            row = conn.execute(sql.LOCK_DESTINATION, {"org": self.org, "name": name}).one_or_none()
            if row is None:
                raise self._no_destination(name)
            if row.kind != "webhook":
                raise ConfigError(
                    f"destination {name!r} is a {row.kind} destination; only webhooks are signed"
                )
            config = dict(reveal(row.config, self.settings))
            old = config.get("secret")
            if old == new_secret:
                raise ConfigError("the new secret is the current one; give a different secret")
            kept = [
                p
                for p in config.get("previous_secrets", [])
                if datetime.fromisoformat(p["expires_at"]) > now
            ]
            valid_until = None
            if old and grace_seconds > 0:
                valid_until = now + timedelta(seconds=grace_seconds)
                kept.insert(0, {"secret": old, "expires_at": valid_until.isoformat()})
            config.update(secret=new_secret, previous_secrets=kept)
            stored = validate_config("webhook", config).model_dump(mode="json", exclude_none=True)
            conn.execute(
                sql.UPDATE_DESTINATION_CONFIG,
                {"id": row.id, "config": json.dumps(self._seal("webhook", stored))},
            )
        return {"name": name, "secret": new_secret, "previous_valid_until": valid_until}

    def test_destination(self, name: str, *, env: str | None = None) -> dict[str, Any]:
        """Send a test event to ``name`` now, through the worker's own delivery path.

        The event (``eventrouter:test``) and its delivery are recorded like any other, so
        ``eventrouter show`` has the attempt; it is tried once, never retried.
        """
        from eventrouter.router.destinations.context import make_send_context
        from eventrouter.router.events import new_event_id
        from eventrouter.workers.delivery import deliver_batch
        from eventrouter.workers.retry import RetryPolicy

        check_env(env)
        event_id = new_event_id()
        payload = {
            "message": f"Test notification from eventrouter to destination {name}.",
            "destination": name,
            "severity": "info",
        }
        with self._tx() as conn:
            row = self._destinations(conn, [name])[0]
            if not row.enabled:
                raise ConfigError(f"destination {name!r} is disabled; enable it first")
            conn.execute(
                sql.INSERT_TEST_EVENT,
                {
                    "id": event_id,
                    "name": TEST_EVENT,
                    "org": self.org,
                    "env": env,
                    "payload": json.dumps(payload),
                },
            )
            delivery_id = conn.execute(
                sql.INSERT_TEST_DELIVERY, {"event_id": event_id, "destination_id": row.id}
            ).scalar_one()
        ctx = make_send_context(self.settings, rate_limit_wait=30.0)
        try:
            with translating_errors(self.settings.database_url):
                deliver_batch(
                    self.engine, ctx, self.settings, row.id, [delivery_id], policy=RetryPolicy(())
                )
        finally:
            ctx.http.close()
        with self._tx() as conn:
            result = conn.execute(sql.TEST_RESULT, {"id": delivery_id}).one()
        return {
            "destination": name,
            "event_id": event_id,
            "delivery_id": delivery_id,
            **_row(result),
        }

    def remove_destination(self, name: str) -> None:
        with self._tx() as conn:
            destination = self._destinations(conn, [name])[0]
            conn.execute(
                sql.CANCEL_OPEN_DELIVERIES,
                {"destination_id": destination.id, "reason": "destination removed"},
            )
            conn.execute(sql.DELETE_DESTINATION, {"id": destination.id})

    def _destinations(self, conn: Connection, names: Sequence[str]) -> list[Any]:
        rows = {
            r.name: r
            for r in conn.execute(sql.FIND_DESTINATIONS, {"names": list(names), "org": self.org})
        }
        missing = [n for n in names if n not in rows]
        if missing:
            raise self._no_destination(*missing)
        return [rows[n] for n in names]

    @staticmethod
    def _no_destination(*names: str) -> NotFound:
        return NotFound(
            f"no destination named {', '.join(map(repr, names))}; "
            "see 'eventrouter destinations list'"
        )

    # -- subscriptions -------------------------------------------------------------
    def add_subscription(
        self,
        name: str,
        *,
        channels: Sequence[str],
        destinations: Sequence[str],
        env: str | None = None,
    ) -> dict[str, Any]:
        check_name("subscription", name)
        check_env(env)
        if not channels:
            raise ConfigError("a subscription needs at least one --channel")
        if not destinations:
            raise ConfigError("a subscription needs at least one --destination")
        channels = list(dict.fromkeys(channels))
        destinations = list(dict.fromkeys(destinations))
        with self._tx() as conn:
            channel_rows = self._channels(conn, channels)
            destination_rows = self._destinations(conn, destinations)
            new_id = self._insert_named(
                conn,
                sql.INSERT_SUBSCRIPTION,
                {"org": self.org, "name": name, "env": env},
                "subscription",
            )
            conn.execute(
                sql.LINK_CHANNELS, {"id": new_id, "channel_ids": [r.id for r in channel_rows]}
            )
            conn.execute(
                sql.LINK_DESTINATIONS,
                {"id": new_id, "destination_ids": [r.id for r in destination_rows]},
            )
        return {
            "id": new_id,
            "name": name,
            "env": env,
            "channels": channels,
            "destinations": destinations,
            "enabled": True,
        }

    def list_subscriptions(self) -> list[dict[str, Any]]:
        with self._tx() as conn:
            return [_row(r) for r in conn.execute(sql.LIST_SUBSCRIPTIONS, {"org": self.org})]

    def set_subscription_enabled(self, name: str, enabled: bool) -> None:
        with self._tx() as conn:
            found = conn.execute(
                sql.SET_SUBSCRIPTION_ENABLED, {"org": self.org, "name": name, "enabled": enabled}
            ).scalar()
        if found is None:
            raise self._no_subscription(name)

    def remove_subscription(self, name: str) -> None:
        with self._tx() as conn:
            found = conn.execute(sql.DELETE_SUBSCRIPTION, {"org": self.org, "name": name}).scalar()
            if found is None:
                raise self._no_subscription(name)

    @staticmethod
    def _no_subscription(name: str) -> NotFound:
        return NotFound(f"no subscription named {name!r}; see 'eventrouter subscriptions list'")

    # -- inspection ----------------------------------------------------------------
    def history(
        self, *, limit: int = 20, name_regex: str | None = None, env: str | None = None
    ) -> list[dict[str, Any]]:
        if name_regex is not None:
            try:
                re.compile(name_regex)
            except re.error as exc:
                raise ConfigError(f"invalid --name pattern {name_regex!r}: {exc}") from None
        try:
            with self._tx() as conn:
                return [
                    _row(r)
                    for r in conn.execute(
                        sql.HISTORY,
                        {"org": self.org, "name_re": name_regex, "env": env, "limit": limit},
                    )
                ]
        except DataError as exc:
            raise ConfigError(f"invalid --name pattern {name_regex!r}: {exc.orig}") from None

    def show(self, event_id: str) -> dict[str, Any]:
        try:
            event_id = str(uuid.UUID(event_id))
        except ValueError:
            raise ConfigError(f"{event_id!r} is not an event id (a UUID)") from None
        with self._tx() as conn:
            event = conn.execute(sql.SHOW_EVENT, {"id": event_id, "org": self.org}).one_or_none()
            if event is None:
                raise NotFound(f"no event {event_id} in org {self.org!r}")
            deliveries = [_row(r) for r in conn.execute(sql.SHOW_DELIVERIES, {"id": event_id})]
            attempts = [_row(r) for r in conn.execute(sql.SHOW_ATTEMPTS, {"id": event_id})]
        for delivery in deliveries:
            delivery["attempts"] = [a for a in attempts if a["delivery_id"] == delivery["id"]]
        return {**_row(event), "deliveries": deliveries}

    def deliveries(
        self, *, status: str | None = None, destination: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        if status is not None and status not in STATUSES:
            raise ConfigError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
        with self._tx() as conn:
            destination_id = self._destinations(conn, [destination])[0].id if destination else None
            return [
                _row(r)
                for r in conn.execute(
                    sql.LIST_DELIVERIES,
                    {
                        "org": self.org,
                        "status": status,
                        "destination_id": destination_id,
                        "limit": limit,
                    },
                )
            ]

    # -- retry ---------------------------------------------------------------------
    def retry(self, delivery_ids: Sequence[int]) -> list[int]:
        """Put failed or cancelled deliveries back to ``pending``; unknown ids raise."""
        ids = sorted(set(delivery_ids))
        with self._tx() as conn:
            states = {
                r.id: r.status
                for r in conn.execute(sql.DELIVERY_STATES, {"org": self.org, "ids": ids})
            }
            unknown = [i for i in ids if i not in states]
            if unknown:
                raise NotFound(f"no delivery with id {', '.join(map(str, unknown))}")
            busy = [f"{i} ({states[i]})" for i in ids if states[i] not in ("failed", "cancelled")]
            if busy:
                raise ConfigError(
                    f"only failed or cancelled deliveries can be retried; not {', '.join(busy)}"
                )
            return sorted(
                r.id for r in conn.execute(sql.RETRY_BY_ID, {"org": self.org, "ids": ids})
            )

    def retry_failed(
        self, *, destination: str | None = None, since_seconds: float | None = None
    ) -> list[int]:
        """Put every failed or cancelled delivery (optionally filtered) back to ``pending``."""
        with self._tx() as conn:
            destination_id = self._destinations(conn, [destination])[0].id if destination else None
            return sorted(
                r.id
                for r in conn.execute(
                    sql.RETRY_FAILED,
                    {"org": self.org, "destination_id": destination_id, "since": since_seconds},
                )
            )
