"""Test helpers: config and data rows written with plain SQL, small query helpers, and a
recording stand-in for the Celery dispatcher. Fixtures in ``conftest.py`` hand them out."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, text

from eventrouter.router.control import Caller, Control
from eventrouter.router.crypto import SecretBox, generate_key, unseal
from eventrouter.router.events import new_event_id
from eventrouter.router.settings import Settings

SECRET_KEY = generate_key()
"""Encrypts destination secrets in this test session (never a key file in $HOME)."""


def plain(stored: Any) -> Any:
    """A stored destination config (or one value of it) with its secrets decrypted."""
    return unseal(stored, SecretBox([SECRET_KEY]))


# -- config and data rows, written with plain SQL --------------------------------------
@dataclass
class Seed:
    """Inserts rows directly, bypassing the admin layer. Each method returns the new id."""

    engine: Engine
    _counter: int = field(default=0)

    def _name(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}-{self._counter}"

    def _insert(self, statement: str, **params: Any) -> Any:
        with self.engine.begin() as conn:
            return conn.execute(text(statement), params).scalar_one()

    def channel(
        self,
        pattern: str,
        *,
        org: str = "default",
        env: str | None = None,
        name: str | None = None,
        is_system: bool = False,
    ) -> int:
        return int(
            self._insert(
                "INSERT INTO channels (org, env, name, pattern, is_system) "
                "VALUES (:org, :env, :name, :pattern, :is_system) RETURNING id",
                org=org,
                env=env,
                name=name or self._name("channel"),
                pattern=pattern,
                is_system=is_system,
            )
        )

    def destination(
        self,
        url: str = "http://127.0.0.1:9/hook",
        *,
        org: str = "default",
        name: str | None = None,
        kind: str = "webhook",
        enabled: bool = True,
        retry_schedule: str | None = None,
        config: dict[str, Any] | None = None,
        **extra_config: Any,
    ) -> int:
        """A destination; by default kind ``webhook`` with config ``{"url": url, **extra}``."""
        body = config if config is not None else {"url": url, **extra_config}
        return int(
            self._insert(
                "INSERT INTO destinations (org, name, kind, config, enabled, retry_schedule) "
                "VALUES (:org, :name, :kind, CAST(:config AS jsonb), :enabled, :retry) "
                "RETURNING id",
                org=org,
                name=name or self._name("destination"),
                kind=kind,
                config=json.dumps(body),
                enabled=enabled,
                retry=retry_schedule,
            )
        )

    def subscription(
        self,
        channels: Iterable[int],
        destinations: Iterable[int],
        *,
        org: str = "default",
        env: str | None = None,
        enabled: bool = True,
        name: str | None = None,
    ) -> int:
        with self.engine.begin() as conn:
            sub_id = conn.execute(
                text(
                    "INSERT INTO subscriptions (org, name, env, enabled) "
                    "VALUES (:org, :name, :env, :enabled) RETURNING id"
                ),
                {
                    "org": org,
                    "name": name or self._name("subscription"),
                    "env": env,
                    "enabled": enabled,
                },
            ).scalar_one()
            for channel_id in channels:
                conn.execute(
                    text("INSERT INTO subscription_channels VALUES (:s, :c)"),
                    {"s": sub_id, "c": channel_id},
                )
            for destination_id in destinations:
                conn.execute(
                    text("INSERT INTO subscription_destinations VALUES (:s, :d)"),
                    {"s": sub_id, "d": destination_id},
                )
        return int(sub_id)

    def route(self, pattern: str, url: str, **kwargs: Any) -> tuple[int, int, int]:
        """Channel + webhook destination + subscription in one go: ``(ch, dest, sub)``."""
        org = kwargs.pop("org", "default")
        channel_id = self.channel(pattern, org=org)
        destination_id = self.destination(url, org=org, **kwargs)
        return (
            channel_id,
            destination_id,
            self.subscription([channel_id], [destination_id], org=org),
        )

    def event(
        self,
        name: str = "payment:failed",
        payload: dict[str, Any] | None = None,
        *,
        org: str = "default",
        env: str | None = None,
        event_id: str | None = None,
    ) -> str:
        return str(
            self._insert(
                "INSERT INTO events (id, name, org, env, payload, published_at) "
                "VALUES (:id, :name, :org, :env, CAST(:payload AS jsonb), now()) RETURNING id",
                id=event_id or new_event_id(),
                name=name,
                org=org,
                env=env,
                payload=json.dumps(payload if payload is not None else {"n": 1}),
            )
        )

    def delivery(
        self,
        event_id: str,
        destination_id: int,
        *,
        status: str = "pending",
        attempt_count: int = 0,
        due_in: float = 0.0,
        dispatched_ago: float | None = None,
        lease_expires_in: float | None = None,
    ) -> int:
        """A delivery row. Times are seconds relative to the database's ``now()``:
        ``next_attempt_at = now() + due_in``; ``dispatched_at = now() - dispatched_ago``
        (NULL when None); ``lease_expires_at = now() + lease_expires_in`` (NULL when None).
        """
        return int(
            self._insert(
                """
                INSERT INTO deliveries (event_id, destination_id, status, attempt_count,
                                        next_attempt_at, dispatched_at, lease_expires_at)
                VALUES (:event_id, :destination_id, :status, :attempts,
                        now() + make_interval(secs => :due_in),
                        now() - make_interval(secs => CAST(:dispatched_ago AS float8)),
                        now() + make_interval(secs => CAST(:lease AS float8)))
                RETURNING id
                """,
                event_id=event_id,
                destination_id=destination_id,
                status=status,
                attempts=attempt_count,
                due_in=due_in,
                dispatched_ago=dispatched_ago,
                lease=lease_expires_in,
            )
        )


def rows(engine: Engine, statement: str, **params: Any) -> list[Any]:
    """Run a query and return all rows (attribute access by column name)."""
    with engine.connect() as conn:
        return list(conn.execute(text(statement), params))


def scalar(engine: Engine, statement: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(statement), params).scalar()


# -- Celery stand-in for the router ----------------------------------------------------
class RecordingDispatcher:
    """Records ``dispatch`` calls instead of sending Celery tasks (Celery runs for real in
    e2e). Set ``fail`` to make ``dispatch`` raise like an unreachable broker."""

    def __init__(self) -> None:
        self.calls: list[list[tuple[int, int]]] = []
        self.fail: BaseException | None = None

    def dispatch(self, deliveries: Iterable[tuple[int, int]]) -> int:
        pairs = [(int(d), int(dest)) for d, dest in deliveries]
        if self.fail is not None:
            raise self.fail
        self.calls.append(pairs)
        return len({dest for _, dest in pairs})

    @property
    def pairs(self) -> list[tuple[int, int]]:
        return [pair for call in self.calls for pair in call]

    @property
    def delivery_ids(self) -> list[int]:
        return [delivery_id for delivery_id, _ in self.pairs]

    def clear(self) -> None:
        self.calls.clear()

    def close(self) -> None:
        pass


def control_for(engine: Engine, settings: Settings, *, org: str = "default") -> Control:
    """The control plane as an admin of ``org`` (what the CLI uses)."""
    return Control(engine, settings, Caller(org=org))
