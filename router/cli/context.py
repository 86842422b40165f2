"""What one CLI invocation builds lazily: settings, an engine and the control plane."""

from __future__ import annotations

from functools import cached_property

import click
from sqlalchemy import Engine

from eventrouter.router.control import Caller, Control, Role
from eventrouter.router.db import make_engine
from eventrouter.router.errors import ConfigError, first_line
from eventrouter.router.settings import Settings


class Context:
    """The CLI reaches the database directly, so it acts as an admin of the org it names."""

    def __init__(self, org: str | None) -> None:
        self.org_option = org

    @cached_property
    def settings(self) -> Settings:
        try:
            return Settings()
        except ValueError as exc:
            raise ConfigError(f"bad EVENTROUTER_* setting: {first_line(exc)}") from None

    @property
    def org(self) -> str:
        return self.org_option or self.settings.org

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url, pool_size=1)

    @cached_property
    def control(self) -> Control:
        return Control(self.engine, self.settings, Caller(org=self.org, role=Role.ADMIN))


pass_ctx = click.make_pass_decorator(Context)
