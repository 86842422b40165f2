"""``eventrouter subscriptions``: which channels go to which destinations."""

from __future__ import annotations

from typing import Any

import click

from eventrouter.router.cli.context import Context, pass_ctx
from eventrouter.router.cli.output import env_change, given, json_option, listing, report
from eventrouter.router.cli.rule_options import pop_rules, rule_options, rules_from
from eventrouter.router.errors import ConfigError
from eventrouter.router.models.configuration import Subscription, SubscriptionIn, SubscriptionUpdate


@click.group()
def subscriptions() -> None:
    """Subscriptions: which channels go to which destinations."""


USERS_HELP = "People to notify as they chose: all, role:admin or a@x.com,b@y.com."


def people_change(users: str | None, no_users: bool) -> dict[str, Any]:
    """``users`` for an update: given, cleared (``--no-users``) or left alone."""
    if users is not None and no_users:
        raise ConfigError("give --users or --no-users, not both")
    if no_users:
        return {"users": None}
    return {} if users is None else {"users": users}


@subscriptions.command("add")
@click.argument("name")
@click.option("--channel", "channel_names", multiple=True, required=True, help="Repeatable.")
@click.option("--destination", "destination_names", multiple=True, help="Repeatable (or --users).")
@click.option("--env", default=None, help="Only events of this environment [default: all].")
@click.option("--users", default=None, help=USERS_HELP)
@click.option("--mandatory", is_flag=True, help="People's channel opt-outs do not apply.")
@rule_options
@json_option
@pass_ctx
def subscriptions_add(
    ctx: Context,
    /,
    name: str,
    channel_names: tuple[str, ...],
    destination_names: tuple[str, ...],
    env: str | None,
    users: str | None,
    mandatory: bool,
    as_json: bool,
    **rule_flags: Any,
) -> None:
    """Add a subscription, optionally with rules (README: "Alert rules") and people
    (README: "People")."""
    sub = ctx.control.subscriptions.add(
        SubscriptionIn(
            name=name,
            channels=list(channel_names),
            destinations=list(destination_names),
            env=env,
            rules=rules_from(pop_rules(rule_flags)),
            users=users,
            mandatory=mandatory,
        )
    )
    report(as_json, sub, f"subscription {name} added: {describe(sub)}")


def describe(sub: Subscription) -> str:
    scope = f"env {sub.env}" if sub.env else "all environments"
    rules = f"; rules {sub.rules.model_dump_json(exclude_defaults=True)}" if sub.rules else ""
    people = f"; users {sub.users}{' (mandatory)' if sub.mandatory else ''}" if sub.users else ""
    targets = ", ".join(sub.destinations) or "-"
    return f"{', '.join(sub.channels)} → {targets} ({scope}){rules}{people}"


@subscriptions.command("list")
@json_option
@pass_ctx
def subscriptions_list(ctx: Context, as_json: bool) -> None:
    """List subscriptions."""
    listing(
        ctx.control.subscriptions.list(),
        as_json,
        ["name", "env", "channels", "destinations", "users", "enabled"],
        "no subscriptions",
    )


@subscriptions.command("update")
@click.argument("name")
@click.option("--channel", "channels", multiple=True, help="Replace the channels (repeatable).")
@click.option(
    "--destination", "destinations", multiple=True, help="Replace the destinations (repeatable)."
)
@click.option("--add-channel", multiple=True, help="Also match this channel (repeatable).")
@click.option("--remove-channel", multiple=True, help="Stop matching this channel (repeatable).")
@click.option("--add-destination", multiple=True, help="Also send here (repeatable).")
@click.option("--remove-destination", multiple=True, help="Stop sending here (repeatable).")
@click.option("--env", default=None, help="Only events of this environment.")
@click.option("--all-envs", is_flag=True, help="Events of every environment (drops --env).")
@click.option("--users", default=None, help="Replace the people: " + USERS_HELP)
@click.option("--no-users", is_flag=True, help="Notify no people.")
@click.option("--mandatory/--not-mandatory", default=None, help="Whether people's opt-outs apply.")
@rule_options
@click.option("--no-rules", is_flag=True, help="Remove every rule (before the rule flags given).")
@json_option
@pass_ctx
def subscriptions_update(
    ctx: Context,
    /,
    name: str,
    channels: tuple[str, ...],
    destinations: tuple[str, ...],
    add_channel: tuple[str, ...],
    remove_channel: tuple[str, ...],
    add_destination: tuple[str, ...],
    remove_destination: tuple[str, ...],
    env: str | None,
    all_envs: bool,
    users: str | None,
    no_users: bool,
    mandatory: bool | None,
    no_rules: bool,
    as_json: bool,
    **rule_flags: Any,
) -> None:
    """Change a subscription in place; running routers follow within a second. Rule flags
    change only the rules they name (README: "Alert rules")."""
    rules = pop_rules(rule_flags)
    change = SubscriptionUpdate.model_validate(
        given(
            channels=list(channels) or None,
            destinations=list(destinations) or None,
            add_channels=list(add_channel) or None,
            remove_channels=list(remove_channel) or None,
            add_destinations=list(add_destination) or None,
            remove_destinations=list(remove_destination) or None,
            rules=rules or None,
            clear_rules=no_rules or None,
            mandatory=mandatory,
        )
        | env_change(env, all_envs)
        | people_change(users, no_users)
    )
    if not change.model_fields_set:
        raise ConfigError(
            "nothing to change: give --channel, --destination, --add-channel, "
            "--remove-channel, --add-destination, --remove-destination, --env, --all-envs, "
            "--users, --no-users, --mandatory, a rule flag (--filter…) or --no-rules"
        )
    sub = ctx.control.subscriptions.update(name, change)
    report(as_json, sub, f"subscription {name} updated: {describe(sub)}")


@subscriptions.command("enable")
@click.argument("name")
@pass_ctx
def subscriptions_enable(ctx: Context, name: str) -> None:
    """Enable a subscription."""
    ctx.control.subscriptions.set_enabled(name, True)
    click.echo(f"subscription {name} enabled")


@subscriptions.command("disable")
@click.argument("name")
@pass_ctx
def subscriptions_disable(ctx: Context, name: str) -> None:
    """Disable a subscription."""
    ctx.control.subscriptions.set_enabled(name, False)
    click.echo(f"subscription {name} disabled")


@subscriptions.command("remove")
@click.argument("name")
@pass_ctx
def subscriptions_remove(ctx: Context, name: str) -> None:
    """Remove a subscription."""
    ctx.control.subscriptions.remove(name)
    click.echo(f"subscription {name} removed")
