"""eventrouter: publish named events; routers and workers deliver them.

from eventrouter import publish
publish("payment:failed", {"invoice": "in_123", "amount": 4200})
"""

from eventrouter.router.client import apublish, apublish_many, publish, publish_many
from eventrouter.router.errors import (
    ConfigError,
    EventRouterError,
    InvalidEvent,
    NotFound,
    PublishError,
    ServiceUnavailable,
    StreamFull,
)
from eventrouter.router.settings import Settings

__all__ = [
    "ConfigError",
    "EventRouterError",
    "InvalidEvent",
    "NotFound",
    "PublishError",
    "ServiceUnavailable",
    "Settings",
    "apublish",
    "apublish_many",
    "StreamFull",
    "publish",
    "publish_many",
]
