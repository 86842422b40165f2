"""Who is asking: an org and a role. Every service checks the caller here, at the seam the
CLI, the HTTP API and the dashboard share, so the three agree by construction."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from eventrouter.router.errors import Forbidden


class Role(StrEnum):
    """What a caller may do; each role includes the ones before it."""

    VIEWER = "viewer"
    """Reads events, deliveries, attempts and configuration (secrets masked)."""
    DEVELOPER = "developer"
    """…and publishes events, sends test notifications, retries deliveries."""
    ADMIN = "admin"
    """…and changes channels, destinations, subscriptions, users and tokens."""

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def includes(self, other: Role) -> bool:
        return self.rank >= other.rank


@dataclass(frozen=True, slots=True)
class Caller:
    """The org a request acts in and the role it acts with. The CLI, which reaches the
    database directly, acts as an admin of the org it names."""

    org: str
    role: Role = Role.ADMIN
    user_id: int | None = None
    """The user behind the request (``None``: the CLI or a service token)."""

    def require(self, role: Role, action: str) -> None:
        """Raise ``Forbidden`` unless the caller's role includes ``role``."""
        if not self.role.includes(role):
            raise Forbidden(f"{action} needs the {role} role; this caller is a {self.role}")
