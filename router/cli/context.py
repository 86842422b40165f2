"""What one CLI invocation builds lazily: settings, an engine and the control plane."""

from __future__ import annotations

from functools import cached_property

import click
from pydantic import ValidationError
from sqlalchemy import Engine

from eventrouter.router.control import Caller, Control, Role
from eventrouter.router.db import make_engine
from eventrouter.router.errors import ConfigError
from eventrouter.router.settings import Settings, describe_errors


class Context:
    """The CLI reaches the database directly, so it acts as an admin of the org it names."""

    def __init__(self, org: str | None) -> None:
        self.org_option = org

    @cached_property
    def settings(self) -> Settings:
        try:
            return Settings()
        except ValidationError as exc:
            raise ConfigError(describe_errors(exc)) from None

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


def _set_org(click_ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        context = click_ctx.find_object(Context)
        if context is not None:
            context.org_option = value


def org_option() -> click.Option:
    """``--org ORG`` for a subcommand (``eventrouter history --org X``), as well as before it
    (``eventrouter --org X history``); the one given last wins."""
    return click.Option(
        ["--org"],
        default=None,
        expose_value=False,
        callback=_set_org,
        help="Organisation to act on [default: EVENTROUTER_ORG].",
    )


def warn_if_unconfigured(ctx: Context) -> None:
    """A line on stderr when the org has no configuration at all (a typo in --org)."""
    if not ctx.control.events.org_configured():
        click.echo(
            f"warning: org {ctx.org!r} has no channels, destinations or subscriptions; "
            "is --org (or EVENTROUTER_ORG) right?",
            err=True,
        )
