"""The worker's heartbeat: a bootstep whose timer touches ``EVENTROUTER_HEARTBEAT_FILE``.

The timer runs in the worker's main loop, so the file goes stale when that loop stops
turning (a hung consumer), which is what a liveness probe should restart.
"""

from __future__ import annotations

from typing import Any

from celery import bootsteps

from eventrouter.router.heartbeat import BEAT_SECONDS, Heartbeat


class HeartbeatStep(bootsteps.StartStopStep):  # type: ignore[misc]
    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.tref: Any = None

    def start(self, worker: Any) -> None:
        path = worker.app.conf.get("eventrouter_heartbeat_file")
        if not path:
            return
        heartbeat = Heartbeat(path, every=0)  # the timer paces it
        heartbeat.beat()
        self.tref = worker.timer.call_repeatedly(BEAT_SECONDS, heartbeat.beat, priority=10)

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None
