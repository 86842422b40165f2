"""Every error eventrouter raises on purpose, in one tree.

    EventRouterError
    ├── InvalidEvent        a name or payload publish() refuses (fix the call)
    │   └── PayloadTooLarge a payload (or a request body) over its size limit
    ├── PublishError        Redis did not accept the event (nothing was published)
    │   └── StreamFull      back-pressure: too many unrouted events; retry later
    ├── ConfigError         a channel, destination or subscription that cannot be saved
    │   ├── NotFound        a name or id that does not exist (in the caller's org)
    │   └── Conflict        the name is taken
    ├── Unauthorized        no credentials, or a token that is unknown, revoked or expired
    ├── Forbidden           the caller's role does not allow the action
    └── ServiceUnavailable  Postgres or Redis cannot be reached (names the URL)

Callers catch ``EventRouterError`` to handle all of them; the CLI turns each into
one line on stderr.
"""

from __future__ import annotations


class EventRouterError(Exception):
    """Base of every error raised on purpose by eventrouter."""


class InvalidEvent(EventRouterError, ValueError):
    """The event name or payload breaks a rule; the message says which."""


class PayloadTooLarge(InvalidEvent):
    """The payload is over 256 KiB encoded (or an HTTP request body is over its limit)."""


class PublishError(EventRouterError):
    """Redis did not accept the event, so it was not published."""


class StreamFull(PublishError):
    """The stream already holds ``stream_max_length`` unrouted events (routers stopped or
    far behind); nothing was appended. Back off and retry: nothing is ever dropped."""


class ConfigError(EventRouterError, ValueError):
    """A configuration change was refused; nothing was written."""

    def __init__(self, message: str = "", *, field: tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.field = field
        """The input field the problem is in, when known (``("name",)``,
        ``("config", "smtp", "host")``): a form shows the message next to that field."""


class NotFound(ConfigError, LookupError):
    """The named channel, destination, subscription, event or delivery does not exist."""


class Conflict(ConfigError):
    """Another object of the same kind already has that name in the org."""


class Unauthorized(EventRouterError):
    """No token, or one that is malformed, unknown, revoked or expired (HTTP 401)."""


class Forbidden(EventRouterError):
    """The caller's role does not allow this action; the message names the role needed."""


class ServiceUnavailable(EventRouterError):
    """Postgres or Redis could not be reached."""


def first_line(exc: BaseException) -> str:
    """The first line of what ``exc`` says (a driver error's own message, not its wrapper's),
    or its type name when it says nothing: for one-line messages and logs."""
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
