"""Notification preferences: each user reads and changes their own; admins everyone's.

Reading one's preferences writes the defaults the first time, so what the API shows is
what is stored. A change is partial (only the fields sent) and merged under the user's
row lock, so two changes of different fields both survive. Channels are checked against
the org's, and the time zone is the user's own (``users.timezone``), the zone their quiet
hours and daily digest are read in.
"""

from __future__ import annotations

from sqlalchemy import Connection

from eventrouter.router.control import cursor
from eventrouter.router.control.caller import Role
from eventrouter.router.control.service import Service
from eventrouter.router.control.test_send import send_test, summary
from eventrouter.router.control.users import no_user
from eventrouter.router.db import config as config_store
from eventrouter.router.db import people as people_store
from eventrouter.router.db import preferences as store
from eventrouter.router.db import users as user_store
from eventrouter.router.errors import ConfigError, NotFound
from eventrouter.router.models.base import Page
from eventrouter.router.people.merge import Addressee, recipient_name
from eventrouter.router.people.preferences import (
    Medium,
    PersonTest,
    PreferencesChange,
    UserPreferences,
)


def not_a_user() -> NotFound:
    return NotFound(
        "this caller is not a user (a service token or the CLI); "
        "name one (--user EMAIL, or /v1/users/{id}/preferences)"
    )


class PreferenceService(Service):
    def mine(self) -> UserPreferences:
        """The caller's own preferences (the defaults, stored, on the first read)."""
        return self.get(self._me())

    def change_mine(self, change: PreferencesChange) -> UserPreferences:
        return self.change(self._me(), change)

    def get(self, user_id: int) -> UserPreferences:
        """A user's preferences: their own for anyone, another's for admins only."""
        self._require(user_id, "reading another user's preferences")
        with self.transaction() as conn:
            found = store.ensure(conn, self.org, user_id)
        if found is None:
            raise NotFound(f"no user with id {user_id}; see 'eventrouter users list'")
        return found

    def get_by_email(self, email: str) -> UserPreferences:
        return self.get(self._user_id(email))

    def change(self, user_id: int, change: PreferencesChange) -> UserPreferences:
        """Apply the fields ``change`` sets; refused whole (422 naming the field) when a
        channel is not one of the org's."""
        self._require(user_id, "changing another user's preferences")
        fields = change.model_fields_set
        with self.transaction() as conn:
            current = store.load(conn, self.org, user_id, lock=True)
            if current is None:
                raise NotFound(f"no user with id {user_id}; see 'eventrouter users list'")
            if "channels" in fields:
                self._check_channels(conn, change.channels)
            if "timezone" in fields:
                user_store.set_timezone(conn, self.org, user_id, change.timezone)
            saved = store.save(conn, self.org, user_id, current.preferences.updated(change))
        assert saved is not None  # locked above, in the same transaction
        return saved

    def change_by_email(self, email: str, change: PreferencesChange) -> UserPreferences:
        return self.change(self._user_id(email), change)

    def test_mine(self, medium: Medium) -> PersonTest:
        return self.test(self._me(), medium)

    def test_by_email(self, email: str, medium: Medium) -> PersonTest:
        return self.test(self._user_id(email), medium)

    def test(self, user_id: int, medium: Medium) -> PersonTest:
        """Send ``eventrouter:test`` to one user on ``medium`` now, through the org's
        destination for it and to where their deliveries go, and say what happened. Sent
        even when they turned the medium off: trying it is how they decide to turn it on."""
        self._require(user_id, "sending a test to another user")
        with self.transaction() as conn:
            person = store.ensure(conn, self.org, user_id)
            media = people_store.settings(conn, self.org)
            via = media.email_via if medium is Medium.EMAIL else media.slack_via
            found = config_store.list_destinations(conn, self.org, [via]) if via else []
        if person is None:
            raise NotFound(f"no user with id {user_id}; see 'eventrouter users list'")
        if via is None or not found:
            raise ConfigError(
                f"medium: the org has no {medium} destination; an admin runs "
                f"'eventrouter people set --{medium}-via DESTINATION'",
                field=("medium",),
            )
        if not found[0].enabled:
            raise ConfigError(
                f"medium: the org's {medium} destination {via!r} is disabled; enable it first",
                field=("medium",),
            )
        address = person.address(medium)
        if address is None:
            raise ConfigError(
                f"medium: {person.email} has no Slack address; set slack_target in the "
                "preferences, or an admin runs 'eventrouter users set EMAIL --slack-user U…'",
                field=("medium",),
            )
        to = Addressee(user_id, recipient_name(person.email, medium), address)
        sent = send_test(self.engine, self.settings, self.org, found[0], env=None, person=to)
        message = summary(sent.model_copy(update={"destination": f"{address} via {via}"}))
        if not person.preferences.medium_enabled(medium):
            message += f" ({medium} is off in the preferences: nothing else arrives there)"
        return PersonTest(
            success=sent.succeeded,
            message=message,
            medium=medium,
            address=address,
            destination=via,
            event_id=sent.event_id,
            delivery_id=sent.delivery_id,
        )

    def list(self, *, limit: int = 20, cursor_token: str | None = None) -> Page[UserPreferences]:
        """Everyone's preferences, in the order users were added (defaults for those who
        never saved theirs; nothing is written)."""
        self.caller.require(Role.ADMIN, "listing everyone's preferences")

        def fetch(after_id: int, limit: int) -> list[UserPreferences]:
            with self.transaction() as conn:
                return store.list_page(conn, self.org, after_id=after_id, limit=limit)

        return cursor.by_id(fetch, lambda up: up.user_id, limit=limit, cursor_token=cursor_token)

    def _me(self) -> int:
        self.caller.require(Role.VIEWER, "reading your own preferences")
        if self.caller.user_id is None:
            raise not_a_user()
        return self.caller.user_id

    def _require(self, user_id: int, action: str) -> None:
        if user_id != self.caller.user_id:
            self.caller.require(Role.ADMIN, action)

    def _user_id(self, email: str) -> int:
        with self.transaction() as conn:
            user = user_store.find_user(conn, self.org, email)
        if user is None:
            raise no_user(email)
        return user.id

    def _check_channels(self, conn: Connection, channels: dict[str, bool]) -> None:
        known = config_store.find_channels(conn, self.org, list(channels))
        for name in channels:
            if name not in known:
                raise ConfigError(
                    f"channels: no channel {name!r} in org {self.org!r}; "
                    "see 'eventrouter channels list'",
                    field=("channels", name),
                )
