"""The long-running processes: ``eventrouter router`` and ``eventrouter worker``."""

from __future__ import annotations

import gc
import logging
import signal
import threading

import click

from eventrouter.router.cli.context import Context, pass_ctx
from eventrouter.router.db import make_engine

LOG_LEVELS = click.Choice(["debug", "info", "warning", "error"])


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


@click.command("router")
@click.option("--log-level", default="info", show_default=True, type=LOG_LEVELS)
@pass_ctx
def run_router(ctx: Context, log_level: str) -> None:
    """Run a router: stream → Postgres → Celery, plus the retry scheduler.

    Run as many as you like; they share the work. SIGTERM or Ctrl-C stops cleanly.
    """
    from eventrouter.router.service import RouterService

    configure_logging(log_level)
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        logging.getLogger("eventrouter.router").info("signal %d: finishing the batch", signum)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    service = RouterService(ctx.settings, engine=make_engine(ctx.settings.database_url))
    # All that is imported and built by now lives as long as the process: frozen out of the
    # collector's sight, a full collection no longer walks it (again and again) while
    # batches allocate their short-lived rows.
    gc.freeze()
    service.run(stop)


@click.command("worker", context_settings={"ignore_unknown_options": True})
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(1, 256),
    default=None,
    help="Worker processes [default: EVENTROUTER_WORKER_CONCURRENCY or CPUs + 1].",
)
@click.option("--log-level", default="info", show_default=True, type=LOG_LEVELS)
@click.argument("celery_args", nargs=-1, type=click.UNPROCESSED)
@pass_ctx
def run_worker(
    ctx: Context, concurrency: int | None, log_level: str, celery_args: tuple[str, ...]
) -> None:
    """Run a Celery worker that delivers; extra arguments go to 'celery worker'."""
    ctx.settings  # noqa: B018 -- a bad EVENTROUTER_* setting: one line, before Celery reads it
    # The one import from the router side into the workers: this command starts one.
    from eventrouter.workers.app import app

    argv = [
        "worker",
        "--queues",
        ctx.settings.queue,
        "--loglevel",
        log_level.upper(),
        "--hostname",
        "eventrouter@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    workers = concurrency or ctx.settings.worker_concurrency or ctx.settings.default_concurrency
    argv += ["--concurrency", str(workers)]
    app.worker_main([*argv, *celery_args])
