"""Slack message updates, off the router's loop.

Updating a message after a decision takes HTTP requests to Slack, which may be slow or
down; the router's loop must not wait for them. Each scheduler tick pokes one background
thread, which works off the due updates (``Approvals.sync_messages``) unless it is still
busy with the previous ones. What it has not done when the router stops stays due in
Postgres for any router.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor

from eventrouter.router.control.approvals import Approvals
from eventrouter.router.destinations import SendContext
from eventrouter.router.destinations.context import make_send_context
from eventrouter.router.settings import Settings

log = logging.getLogger("eventrouter.router")


class SlackSync:
    def __init__(self, approvals: Approvals, settings: Settings) -> None:
        self._approvals = approvals
        self._settings = settings
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="slack-sync")
        self._running: Future[int] | None = None
        self._ctx: SendContext | None = None

    def poke(self) -> None:
        """Start a round of updates unless one is running."""
        if self._running is None or self._running.done():
            self._running = self._executor.submit(self._round)

    def _round(self) -> int:
        try:
            if self._ctx is None:
                self._ctx = make_send_context(self._settings)
            return self._approvals.sync_messages(self._ctx)
        except Exception:
            log.exception("Slack message updates failed; trying again next tick")
            return 0

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
