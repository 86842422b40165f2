"""``eventrouter api``: serve the HTTP API with uvicorn."""

from __future__ import annotations

import signal

import click

from eventrouter.router.cli.context import Context, pass_ctx
from eventrouter.router.cli.processes import LOG_LEVELS

APP_FACTORY = "eventrouter.router.api.app:create_app"


@click.command("api")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option(
    "--workers", type=click.IntRange(1, 256), default=1, show_default=True, help="Processes."
)
@click.option(
    "--drain-seconds",
    type=click.IntRange(0, 3600),
    default=30,
    show_default=True,
    help="On SIGTERM, how long requests in flight may take to finish.",
)
@click.option("--log-level", default="info", show_default=True, type=LOG_LEVELS)
@pass_ctx
def run_api(
    ctx: Context, host: str, port: int, workers: int, drain_seconds: int, log_level: str
) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json, docs at /docs).

    Stateless: run as many as you like behind a load balancer. SIGTERM stops accepting
    connections and lets requests in flight finish (at most --drain-seconds).
    """
    import uvicorn

    _ = ctx.settings  # a bad EVENTROUTER_* setting fails here, in one line
    # uvicorn drains on SIGTERM/SIGINT, then raises the signal again under the handler it
    # found: with this one the drained process exits 0, like the router and the worker.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _drained)
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        timeout_graceful_shutdown=drain_seconds,
        proxy_headers=False,
        server_header=False,
    )


def _drained(_signum: int, _frame: object) -> None:
    """Nothing left to do: uvicorn has already finished the requests in flight."""
