"""``eventrouter``: run the router and workers, configure routing, inspect deliveries.

A thin adapter over the control plane (``eventrouter.router.control``): each command parses
its options, calls one service and prints the result (``output``). Every failure a person
can cause prints one line on stderr and exits 2; an unreachable service exits 1 with a line
naming its URL. No tracebacks.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from eventrouter.router.cli import output
from eventrouter.router.cli.api import run_api
from eventrouter.router.cli.channels import channels
from eventrouter.router.cli.configuration import apply, export, schema
from eventrouter.router.cli.context import Context, org_option
from eventrouter.router.cli.database import db
from eventrouter.router.cli.deliveries import deliveries, retry
from eventrouter.router.cli.destinations import destinations
from eventrouter.router.cli.dev import dev
from eventrouter.router.cli.events import history, send, show
from eventrouter.router.cli.health import health
from eventrouter.router.cli.output import SERVICE_EXIT, USAGE_EXIT, fail
from eventrouter.router.cli.people import tokens, users
from eventrouter.router.cli.people_settings import people
from eventrouter.router.cli.preferences import preferences
from eventrouter.router.cli.processes import run_router, run_worker
from eventrouter.router.cli.silences import silences
from eventrouter.router.cli.spool import spool
from eventrouter.router.cli.subscriptions import subscriptions
from eventrouter.router.errors import (
    ConfigError,
    EventRouterError,
    Forbidden,
    InvalidEvent,
    PublishError,
    ServiceUnavailable,
    first_line,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--org", default=None, help="Organisation to act on [default: EVENTROUTER_ORG].")
@click.option("--local", is_flag=True, help="Show times in this machine's zone [default: UTC].")
@click.version_option(package_name="eventrouter")
@click.pass_context
def cli(ctx: click.Context, org: str | None, local: bool) -> None:
    """Route named events to webhooks and other destinations, with retries."""
    ctx.obj = Context(org)
    output.LOCAL_TIME = local


for command in (
    db,
    run_router,
    run_worker,
    run_api,
    dev,
    health,
    channels,
    destinations,
    apply,
    export,
    schema,
    subscriptions,
    silences,
    send,
    history,
    show,
    deliveries,
    retry,
    users,
    tokens,
    people,
    preferences,
    spool,
):
    cli.add_command(command)


def _with_org(command: click.Command) -> None:
    """Every command takes ``--org`` after its name too."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _with_org(sub)
    elif not any(param.name == "org" for param in command.params):
        command.params.append(org_option())


for command in cli.commands.values():
    _with_org(command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point: one line per error, never a traceback."""
    try:
        cli.main(args=argv, prog_name="eventrouter", standalone_mode=False)
    except click.exceptions.Abort:
        fail("aborted", 130)
    except click.ClickException as exc:
        command = getattr(exc, "ctx", None)
        hint = f" (see '{command.command_path} --help')" if command else ""
        fail(exc.format_message() + hint, USAGE_EXIT)
    except (ConfigError, InvalidEvent, Forbidden) as exc:
        fail(str(exc), USAGE_EXIT)
    except (ServiceUnavailable, PublishError) as exc:
        fail(str(exc), SERVICE_EXIT)
    except EventRouterError as exc:
        fail(str(exc), SERVICE_EXIT)
    except Exception as exc:  # a bug: still one line, with what to report
        fail(
            f"unexpected {type(exc).__name__}: {first_line(exc)} (a bug in eventrouter; "
            "please report it with the command you ran)",
            SERVICE_EXIT,
        )


if __name__ == "__main__":
    main()
