"""Who a subscription names as recipients: ``all``, ``role:admin``, ``a@x.com,b@y.com``.

Items are comma-separated and may be mixed (``role:admin,oncall@example.com``); a user is a
recipient when any item names them. ``role:R`` means users whose role is exactly R (an
admin is not a "developer" recipient): naming people by what they do, not by what they may
do. Emails compare case-insensitively, as logins do.
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("viewer", "developer", "admin")
MAX_SPEC = 4000


@dataclass(frozen=True, slots=True)
class Recipients:
    everyone: bool = False
    roles: frozenset[str] = frozenset()
    emails: frozenset[str] = frozenset()

    def includes(self, email: str, role: str) -> bool:
        return self.everyone or role in self.roles or email.lower() in self.emails

    def spec(self) -> str:
        """The normalised text stored in ``subscriptions.users``."""
        if self.everyone:
            return "all"
        items = [f"role:{r}" for r in ROLES if r in self.roles] + sorted(self.emails)
        return ",".join(items)


def parse_recipients(text: str) -> Recipients:
    """``ValueError`` names the item that is wrong and how to write it."""
    if len(text) > MAX_SPEC:
        raise ValueError(f"--users is {len(text)} chars; the limit is {MAX_SPEC}")
    items = [item.strip() for item in text.split(",") if item.strip()]
    if not items:
        raise ValueError("--users is empty; use all, role:admin or a@example.com,b@example.com")
    if "all" in (item.lower() for item in items):
        if len(items) > 1:
            raise ValueError("--users all names everyone; give it alone")
        return Recipients(everyone=True)
    roles: set[str] = set()
    emails: set[str] = set()
    for item in items:
        if not item.isprintable():
            raise ValueError(f"{item!r} in --users has a control character; remove it")
        if item.lower().startswith("role:"):
            role = item[5:].strip().lower()
            if role not in ROLES:
                known = "|".join(f"role:{r}" for r in ROLES)
                raise ValueError(f"unknown role {role!r} in --users; use {known}")
            roles.add(role)
        elif "@" in item[1:-1] and " " not in item:
            emails.add(item.lower())
        else:
            raise ValueError(f"{item!r} in --users is neither an email, role:ROLE nor all")
    return Recipients(roles=frozenset(roles), emails=frozenset(emails))
