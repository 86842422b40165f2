"""Users: the people of an org and the role each acts with (admins manage them)."""

from __future__ import annotations

import zoneinfo

from eventrouter.router.control import cursor
from eventrouter.router.control.caller import Role
from eventrouter.router.control.service import Service
from eventrouter.router.db import users as store
from eventrouter.router.errors import ConfigError, Conflict, NotFound
from eventrouter.router.models.base import Page
from eventrouter.router.models.people import User, UserIn, UserUpdate
from eventrouter.router.people.preferences import EMAIL, MAX_ADDRESS, SLACK_CHANNEL, SLACK_USER

MAX_NAME = 200


def parse_role(text: str) -> Role:
    """``text`` as a ``Role``; a ``ConfigError`` listing the roles otherwise."""
    try:
        return Role(text)
    except ValueError:
        roles = ", ".join(role.value for role in Role)
        raise ConfigError(f"unknown role {text!r}; use one of {roles}", field=("role",)) from None


def check_email(email: str) -> str:
    if len(email) > MAX_ADDRESS or not EMAIL.fullmatch(email):
        raise ConfigError(f"{email!r} is not an email address (name@example.com)", field=("email",))
    return email


def check_timezone(zone: str | None) -> str | None:
    """An IANA time zone such as ``Europe/Paris`` (``None``: UTC)."""
    if zone is None:
        return None
    try:
        zoneinfo.ZoneInfo(zone)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ConfigError(
            f"unknown time zone {zone!r}; use an IANA name such as Europe/Paris or UTC",
            field=("timezone",),
        ) from None
    return zone


def check_name(name: str) -> str:
    if len(name) > MAX_NAME or any(ch < " " for ch in name):
        raise ConfigError(
            f"a user's name is at most {MAX_NAME} printable characters", field=("name",)
        )
    return name


def check_slack_user(member: str | None) -> str | None:
    """A Slack member id (``U0123ABCD``, or ``W…`` in Enterprise Grid): a DM goes there."""
    if member is not None and not SLACK_USER.fullmatch(member):
        raise ConfigError(
            f"{member!r} is not a Slack member id; copy it from their Slack profile "
            "(⋮ → Copy member ID), e.g. U0123ABCD",
            field=("slack_user",),
        )
    return member


def check_slack_channel(channel: str | None) -> str | None:
    if channel is not None and not SLACK_CHANNEL.fullmatch(channel):
        raise ConfigError(
            f"{channel!r} is not a Slack channel id; copy it from the channel's details, "
            "e.g. C0123ABCD",
            field=("slack_channel",),
        )
    return channel


def no_user(email: str) -> NotFound:
    return NotFound(f"no user {email!r}; see 'eventrouter users list'")


class Users(Service):
    def add(self, spec: UserIn) -> User:
        self.caller.require(Role.ADMIN, "adding a user")
        check_email(spec.email)
        spec = spec.model_copy(update={"role": parse_role(spec.role).value})
        check_name(spec.name)
        check_timezone(spec.timezone)
        check_slack_user(spec.slack_user)
        check_slack_channel(spec.slack_channel)
        with self.transaction() as conn:
            user = store.insert_user(conn, self.org, spec)
        if user is None:
            raise Conflict(
                f"user {spec.email!r} already exists in org {self.org!r}", field=("email",)
            )
        return user

    def list(self, *, limit: int = 20, cursor_token: str | None = None) -> Page[User]:
        """The org's users in the order they were added."""
        self.caller.require(Role.ADMIN, "listing users")

        def fetch(after_id: int, limit: int) -> list[User]:
            with self.transaction() as conn:
                return store.list_users(conn, self.org, after_id=after_id, limit=limit)

        return cursor.by_id(fetch, lambda user: user.id, limit=limit, cursor_token=cursor_token)

    def get(self, email: str) -> User:
        self.caller.require(Role.ADMIN, "reading a user")
        with self.transaction() as conn:
            user = store.find_user(conn, self.org, email)
        if user is None:
            raise no_user(email)
        return user

    def me(self) -> User:
        """The user behind the caller (a service token or the CLI has none)."""
        self.caller.require(Role.VIEWER, "reading your own user")
        if self.caller.user_id is None:
            raise NotFound("this caller is not a user (a service token or the CLI)")
        with self.transaction() as conn:
            user = store.find_user_by_id(conn, self.org, self.caller.user_id)
        if user is None:
            raise NotFound("your user was removed")
        return user

    def set_timezone(self, zone: str | None) -> User:
        """The caller's own time zone (``None``: the browser's, UTC elsewhere): every role
        may set its own; the dashboard shows times in it."""
        self.caller.require(Role.VIEWER, "setting your time zone")
        if self.caller.user_id is None:
            raise NotFound("this caller is not a user (a service token or the CLI)")
        zone = check_timezone(zone)
        with self.transaction() as conn:
            user = store.set_timezone(conn, self.org, self.caller.user_id, zone)
        if user is None:
            raise NotFound("your user was removed")
        return user

    def update(self, email: str, change: UserUpdate) -> User:
        """Change the fields ``change`` sets (role, name, time zone, Slack contact)."""
        self.caller.require(Role.ADMIN, "changing a user")
        fields = change.model_dump(exclude_unset=True)
        if fields.get("role") is not None:
            fields["role"] = parse_role(fields["role"]).value
        elif "role" in fields:
            raise ConfigError("role cannot be null; use viewer, developer or admin")
        if "name" in fields:
            fields["name"] = check_name(fields["name"] or "")
        check_timezone(fields.get("timezone"))
        check_slack_user(fields.get("slack_user"))
        check_slack_channel(fields.get("slack_channel"))
        with self.transaction() as conn:
            current = store.find_user(conn, self.org, email, lock=True)
            if current is None:
                raise no_user(email)
            if fields.get("role", Role.ADMIN.value) != Role.ADMIN.value:
                self._keep_an_admin(current, "lower the role of")
            return store.update_user(conn, current.model_copy(update=fields))

    def set_role(self, email: str, role: str) -> User:
        """Change a user's role; their tokens act with the new one from the next request."""
        return self.update(email, UserUpdate(role=role))

    def remove(self, email: str) -> None:
        """Remove a user and every token they hold."""
        self.caller.require(Role.ADMIN, "removing a user")
        with self.transaction() as conn:
            current = store.find_user(conn, self.org, email)
            if current is None:
                raise no_user(email)
            self._keep_an_admin(current, "remove")
            store.delete_user(conn, self.org, email)

    def _keep_an_admin(self, target: User, action: str) -> None:
        """An admin acting through a token cannot lock themselves out; the CLI, which
        reaches the database directly, always can recover, so it is not stopped."""
        if target.id == self.caller.user_id:
            raise ConfigError(f"you cannot {action} yourself; ask another admin, or use the CLI")
