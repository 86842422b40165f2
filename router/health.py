"""What ``eventrouter health`` checks, for probes and for people.

- ``postgres``: reachable, and its schema is the one this version needs (a pod started
  before the migration Job finished is not ready yet).
- ``redis``: the ingress stream's Redis answers (and the broker, if it is another).
- ``heartbeat``: this process's ``EVENTROUTER_HEARTBEAT_FILE`` was touched recently — a
  liveness check that asks no other service, so an outage that routers and workers wait
  out never gets them restarted.
- ``backlog``: unrouted events in the stream plus tasks waiting in the delivery queue are
  below a bound — for alerting, or to hold a rollout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from eventrouter.router.errors import first_line
from eventrouter.router.heartbeat import age_seconds
from eventrouter.router.settings import Settings

CHECKS = ("postgres", "redis", "heartbeat", "backlog")
DEFAULT_CHECKS = ("postgres", "redis")


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Limits:
    max_heartbeat_age: float = 60.0
    max_backlog: int = 10_000


def check_postgres(settings: Settings, _limits: Limits) -> CheckResult:
    from eventrouter.router.db.engine import safe_url
    from eventrouter.router.db.migrate import current_revision, head_revision

    url = safe_url(settings.database_url)
    try:
        current = current_revision(settings.database_url)
    except Exception as exc:
        return CheckResult("postgres", False, first_line(exc))
    head = head_revision()
    if current != head:
        return CheckResult(
            "postgres",
            False,
            f"{url}: schema at revision {current or 'none'}, this version needs {head}: run "
            "'eventrouter db upgrade'",
        )
    return CheckResult("postgres", True, f"{url}: schema at revision {head}")


def check_redis(settings: Settings, _limits: Limits) -> CheckResult:
    from eventrouter.router.redis_conn import (
        redis_client,
        redis_unavailable_message,
        safe_redis_url,
    )

    urls = dict.fromkeys([settings.redis_url, settings.celery_broker_url])
    for url in urls:
        try:
            redis_client(url, retries=0).ping()
        except Exception as exc:
            return CheckResult("redis", False, redis_unavailable_message(url, exc))
    return CheckResult("redis", True, ", ".join(safe_redis_url(url) for url in urls) + ": PONG")


def check_heartbeat(settings: Settings, limits: Limits) -> CheckResult:
    path = settings.heartbeat_file
    if not path:
        return CheckResult(
            "heartbeat", False, "EVENTROUTER_HEARTBEAT_FILE is not set: nothing to check"
        )
    age = age_seconds(path)
    if age is None:
        return CheckResult("heartbeat", False, f"{path} does not exist (not started yet?)")
    ok = age <= limits.max_heartbeat_age
    verdict = "" if ok else f", more than {limits.max_heartbeat_age:g}s: stuck"
    return CheckResult("heartbeat", ok, f"{path} touched {age:.1f}s ago{verdict}")


def check_backlog(settings: Settings, limits: Limits) -> CheckResult:
    from eventrouter.router.dispatch import Dispatcher
    from eventrouter.router.redis_conn import redis_client

    try:
        unrouted = int(redis_client(settings.redis_url, retries=0).xlen(settings.stream))
        queued = Dispatcher(settings).waiting()
    except Exception as exc:
        return CheckResult("backlog", False, f"cannot measure the backlog: {first_line(exc)}")
    total = unrouted + queued
    ok = total <= limits.max_backlog
    return CheckResult(
        "backlog",
        ok,
        f"{unrouted} unrouted event(s) in the stream, {queued} task(s) queued"
        + ("" if ok else f": more than {limits.max_backlog}"),
    )


RUNNERS: dict[str, Callable[[Settings, Limits], CheckResult]] = {
    "postgres": check_postgres,
    "redis": check_redis,
    "heartbeat": check_heartbeat,
    "backlog": check_backlog,
}


def run_checks(settings: Settings, names: tuple[str, ...], limits: Limits) -> list[CheckResult]:
    return [RUNNERS[name](settings, limits) for name in names]
