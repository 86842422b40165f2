"""eventrouter: publish named events; routers and workers deliver them.

from router import publish
publish("payment:failed", {"invoice": "in_123", "amount": 4200})
"""

from router.client import publish, publish_many
from router.errors import (
    ConfigError,
    EventRouterError,
    InvalidEvent,
    NotFound,
    PublishError,
    ServiceUnavailable,
    StreamFull,
)
from router.settings import Settings

__all__ = [
    "ConfigError",
    "EventRouterError",
    "InvalidEvent",
    "NotFound",
    "PublishError",
    "ServiceUnavailable",
    "Settings",
    "StreamFull",
    "publish",
    "publish_many",
]
