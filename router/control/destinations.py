"""Destinations: where deliveries go. Configs are validated by their kind's model, checked
against the SSRF guard, and stored with their secrets sealed; what goes out is masked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from eventrouter.router.control.caller import Role
from eventrouter.router.control.service import Service
from eventrouter.router.control.subscriptions import no_destination
from eventrouter.router.control.test_send import send_test
from eventrouter.router.control.validation import check_env, check_object_name
from eventrouter.router.crypto import box_for, has_secrets, require_box, reveal, seal, unseal
from eventrouter.router.db import config as store
from eventrouter.router.db.config import StoredDestination
from eventrouter.router.db.destination_state import cancel_open_deliveries
from eventrouter.router.destinations import (
    describe_target,
    kind_named,
    merge_patch,
    redact,
    secret_paths,
    validate_config,
)
from eventrouter.router.destinations.signing import generate_secret
from eventrouter.router.durations import format_duration, parse_schedule
from eventrouter.router.errors import ConfigError, Conflict
from eventrouter.router.models.configuration import (
    Destination,
    DestinationIn,
    DestinationUpdate,
    SecretRotation,
    TestResult,
)
from eventrouter.router.netguard import UnsafeDestination, check_endpoints, parse_networks

DEFAULT_GRACE_SECONDS = 24 * 3600.0
Names = list[str]
"""Subscription names (named: the ``list`` method shadows the builtin inside the class)."""


PLACEHOLDERS = ("…", "...")
"""What documentation puts where a secret goes (``SG.…``, ``'…'``)."""


def refuse_placeholders(kind: str, config: dict[str, Any]) -> None:
    """A secret copied from the docs as is fails on the first delivery: say so now."""
    for path in secret_paths(kind, config):
        for value in values_at(config, path):
            if isinstance(value, str) and any(mark in value for mark in PLACEHOLDERS):
                raise ConfigError(
                    f"{'.'.join(path)} looks like a placeholder from the documentation "
                    f"({value[:12]!r}…); give the real secret"
                )


def values_at(node: Any, path: tuple[str, ...] | list[str]) -> list[Any]:
    """The values at ``path`` in ``node`` (all values of a mapping found there)."""
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return []
        node = node[key]
    return list(node.values()) if isinstance(node, dict) else [node]


class Destinations(Service):
    def list(self) -> list[Destination]:
        """The org's destinations, secrets masked."""
        self.caller.require(Role.VIEWER, "listing destinations")
        with self.transaction() as conn:
            rows = store.list_destinations(conn, self.org)
        return [self._shown(row) for row in rows]

    def get(self, name: str) -> Destination:
        self.caller.require(Role.VIEWER, "reading a destination")
        with self.transaction() as conn:
            rows = store.list_destinations(conn, self.org, [name])
        if not rows:
            raise no_destination(name)
        return self._shown(rows[0])

    def add(self, spec: DestinationIn) -> Destination:
        """Validate, check reachability, seal secrets, store. A generated signing secret is
        in the answer (``signing_secret``) and nowhere else, ever."""
        self.caller.require(Role.ADMIN, "adding a destination")
        check_object_name("destination", spec.name)
        kind = kind_named(spec.type)
        config = dict(spec.config)
        generated = None
        if spec.generate_secret:
            if kind.signing_secret is None:
                raise ConfigError(f"{spec.type} destinations are not signed; only webhooks are")
            if config.get(kind.signing_secret):
                raise ConfigError("give --secret or --generate-secret, not both")
            generated = config[kind.signing_secret] = generate_secret()
        stored = validate_config(spec.type, config).model_dump(mode="json", exclude_none=True)
        refuse_placeholders(spec.type, stored)
        schedule = self._normalised_schedule(spec.retry_schedule)
        self.check_reachable(stored)
        with self.transaction() as conn:
            created = store.insert_destination(
                conn, self.org, spec.name, spec.type, self.sealed(spec.type, stored), schedule
            )
        if created is None:
            raise Conflict(
                f"destination {spec.name!r} already exists; pick another name", field=("name",)
            )
        shown = redact(spec.type, stored)
        return Destination(
            id=created[0],
            name=spec.name,
            type=spec.type,
            config=shown,
            target=describe_target(spec.type, shown),
            enabled=True,
            retry_schedule=schedule,
            created_at=created[1],
            signing_secret=generated,
        )

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Enable, or disable (its open deliveries are cancelled)."""
        self.caller.require(Role.ADMIN, "enabling or disabling a destination")
        with self.transaction() as conn:
            found = store.set_destination_enabled(
                conn, self.org, name, enabled, "disabled by an operator"
            )
            if found is None:
                raise no_destination(name)
            if not enabled:
                cancel_open_deliveries(conn, found, "destination disabled")

    def update(self, name: str, change: DestinationUpdate) -> Destination:
        """Change a destination in place (``change.config`` is a merge patch of its config):
        its deliveries, open ones included, and its history stay; workers send with the new
        config from their next attempt and routers see it at their next refresh."""
        self.caller.require(Role.ADMIN, "changing a destination")
        with self.transaction() as conn:
            row = store.lock_destination(conn, self.org, name)
            if row is None:
                raise no_destination(name)
            if "type" in change.config:
                raise ConfigError(
                    f"the type of destination {name!r} cannot change; add a new destination"
                )
            config = merge_patch(reveal(row.config, self.settings), change.config)
            stored = validate_config(row.kind, config).model_dump(mode="json", exclude_none=True)
            refuse_placeholders(row.kind, stored)
            schedule = row.retry_schedule
            if "retry_schedule" in change.model_fields_set:
                schedule = self._normalised_schedule(change.retry_schedule)
            self.check_reachable(stored)
            store.update_destination(conn, row.id, self.sealed(row.kind, stored), schedule)
            updated = store.list_destinations(conn, self.org, [name])[0]
        return self._shown(updated)

    def remove(self, name: str, *, force: bool = False) -> Names:
        """Remove it; its open deliveries are cancelled, its history kept. One that a
        subscription still sends to is refused unless ``force``, which detaches it from them
        (their names are returned)."""
        self.caller.require(Role.ADMIN, "removing a destination")
        with self.transaction() as conn:
            rows = store.list_destinations(conn, self.org, [name])
            if not rows:
                raise no_destination(name)
            users = store.destination_users(conn, rows[0].id)
            if users and not force:
                raise ConfigError(
                    f"destination {name!r} is used by subscription(s) {', '.join(users)}; "
                    "remove it from them first ('subscriptions update S --remove-destination "
                    f"{name}'), or give --force to detach it and remove it"
                )
            store.unlink_destination(conn, rows[0].id)
            cancel_open_deliveries(conn, rows[0].id, "destination removed")
            store.delete_destination(conn, rows[0].id)
        return users

    def rotate_secret(
        self,
        name: str,
        *,
        secret: str | None = None,
        grace_seconds: float = DEFAULT_GRACE_SECONDS,
        force: bool = False,
    ) -> SecretRotation:
        """A new signing secret (generated unless given); the old one co-signs for the grace
        period, so receivers can switch without losing a delivery."""
        self.caller.require(Role.ADMIN, "rotating a signing secret")
        if grace_seconds < 0:
            raise ConfigError("--grace cannot be negative")
        new_secret = secret or generate_secret()
        now = datetime.now(UTC)
        with self.transaction() as conn:
            row = store.lock_destination(conn, self.org, name)
            if row is None:
                raise no_destination(name)
            key = kind_named(row.kind).signing_secret
            if key is None:
                raise ConfigError(
                    f"destination {name!r} is a {row.kind} destination; only webhooks are signed"
                )
            config = dict(reveal(row.config, self.settings))
            old = config.get(key)
            if not old and not force:
                raise ConfigError(
                    f"destination {name!r} is not signed; rotating would start signing its "
                    "requests: give --force to turn signing on"
                )
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
            config.update({key: new_secret, "previous_secrets": kept})
            stored = validate_config(row.kind, config).model_dump(mode="json", exclude_none=True)
            store.update_destination_config(conn, row.id, self.sealed(row.kind, stored))
        return SecretRotation(name=name, secret=new_secret, previous_valid_until=valid_until)

    def test(self, name: str, *, env: str | None = None) -> TestResult:
        """Send a test notification now and say what happened (see ``test_send``)."""
        self.caller.require(Role.DEVELOPER, "sending a test notification")
        check_env(env)
        with self.transaction() as conn:
            rows = store.list_destinations(conn, self.org, [name])
        if not rows:
            raise no_destination(name)
        if not rows[0].enabled:
            raise ConfigError(f"destination {name!r} is disabled; enable it first")
        return send_test(self.engine, self.settings, self.org, rows[0], env=env)

    def reencrypt_all(self) -> int:
        """Encrypt every destination's secrets (all orgs) with the first configured key.

        Run after putting a new key first in ``EVENTROUTER_SECRET_KEY``; also encrypts
        secrets stored before a key existed. Returns how many destinations it rewrote.
        """
        self.caller.require(Role.ADMIN, "re-encrypting secrets")
        box = require_box(self.settings)
        count = 0
        with self.transaction() as conn:
            for destination_id, kind, config in store.all_destination_configs(conn):
                plain = unseal(config, box)
                sealed = seal(plain, secret_paths(kind, plain), box)
                if sealed != config:
                    store.update_destination_config(conn, destination_id, sealed)
                    count += 1
        return count

    # -- helpers ---------------------------------------------------------------------------
    def _shown(self, row: StoredDestination) -> Destination:
        config = redact(row.kind, self._reveal(row.config))
        return Destination(
            id=row.id,
            name=row.name,
            type=row.kind,
            config=config,
            target=describe_target(row.kind, config),
            enabled=row.enabled,
            disabled_reason=row.disabled_reason,
            retry_schedule=row.retry_schedule,
            created_at=row.created_at,
        )

    @staticmethod
    def _normalised_schedule(schedule: str | None) -> str | None:
        if schedule is None:
            return None
        try:
            delays = parse_schedule(schedule)
        except ValueError as exc:
            raise ConfigError(str(exc), field=("retry_schedule",)) from None
        return ",".join(format_duration(d) for d in delays)

    def check_reachable(self, config: dict[str, Any]) -> None:
        """The SSRF guard at creation: no internal address unless allowed (workers check
        again, and pin the address, on every connection)."""
        try:
            check_endpoints(config, parse_networks(self.settings.allowed_networks))
        except UnsafeDestination as exc:
            raise ConfigError(f"destination refused: {exc}") from None

    def sealed(self, kind: str, config: dict[str, Any]) -> dict[str, Any]:
        """``config`` with its secrets encrypted (a key is needed only if it has any)."""
        paths = secret_paths(kind, config)
        if not has_secrets(config, paths):
            return config
        sealed: dict[str, Any] = seal(config, paths, require_box(self.settings))
        return sealed

    def revealed(self, config: dict[str, Any]) -> dict[str, Any]:
        """Decrypted (the key is needed when ``config`` holds secrets)."""
        plain: dict[str, Any] = reveal(config, self.settings)
        return plain

    def _reveal(self, config: dict[str, Any]) -> dict[str, Any]:
        """Decrypted for masking, when this host has the key (else masked ciphertext)."""
        box = box_for(self.settings)
        return unseal(config, box) if box is not None else config
