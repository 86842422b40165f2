"""``eventrouter people``: which destinations carry people's notifications."""

from __future__ import annotations

import click

from eventrouter.router.cli.context import Context, pass_ctx
from eventrouter.router.cli.output import given, json_option, report
from eventrouter.router.errors import ConfigError
from eventrouter.router.models.people import PeopleSettings, PeopleSettingsIn


@click.group()
def people() -> None:
    """People as recipients: the org's email and Slack destinations for them."""


def describe(settings: PeopleSettings) -> str:
    return (
        f"email via {settings.email_via or '- (none)'}, "
        f"slack via {settings.slack_via or '- (none)'}"
    )


@people.command("set")
@click.option("--email-via", default=None, help="An email destination (sends to each address).")
@click.option("--slack-via", default=None, help="A Slack bot destination (posts to each DM).")
@click.option("--no-email", is_flag=True, help="No email for people.")
@click.option("--no-slack", is_flag=True, help="No Slack for people.")
@json_option
@pass_ctx
def people_set(
    ctx: Context,
    email_via: str | None,
    slack_via: str | None,
    no_email: bool,
    no_slack: bool,
    as_json: bool,
) -> None:
    """Name the destinations that reach people (subscriptions with --users)."""
    if (email_via and no_email) or (slack_via and no_slack):
        raise ConfigError("give --email-via or --no-email (--slack-via or --no-slack), not both")
    fields = given(email_via=email_via, slack_via=slack_via)
    fields |= {"email_via": None} if no_email else {}
    fields |= {"slack_via": None} if no_slack else {}
    if not fields:
        raise ConfigError(
            "nothing to change: give --email-via, --slack-via, --no-email or --no-slack"
        )
    settings = ctx.control.people.set(PeopleSettingsIn.model_validate(fields))
    report(as_json, settings, f"people: {describe(settings)}")


@people.command("show")
@json_option
@pass_ctx
def people_show(ctx: Context, as_json: bool) -> None:
    """Show the destinations that reach people."""
    settings = ctx.control.people.show()
    report(as_json, settings, f"people: {describe(settings)}")
