"""eventrouter: publish named events; routers and workers deliver them.

from eventrouter import publish
publish("payment:failed", {"invoice": "in_123", "amount": 4200})

Without waiting for Redis (a background thread and a disk spool; see ``Publisher``):

from eventrouter import publisher
publisher().publish("epoch:done", {"loss": 0.12})
"""

from eventrouter.router.client import apublish, apublish_many, publish, publish_many
from eventrouter.router.errors import (
    ConfigError,
    EventRouterError,
    InvalidEvent,
    NotFound,
    PayloadTooLarge,
    PublishError,
    ServiceUnavailable,
    StreamFull,
)
from eventrouter.router.publisher import Publisher, PublisherStats
from eventrouter.router.publisher import default_publisher as publisher
from eventrouter.router.settings import Settings

__all__ = [
    "ConfigError",
    "EventRouterError",
    "InvalidEvent",
    "NotFound",
    "PayloadTooLarge",
    "PublishError",
    "Publisher",
    "PublisherStats",
    "ServiceUnavailable",
    "Settings",
    "StreamFull",
    "apublish",
    "apublish_many",
    "publish",
    "publish_many",
    "publisher",
]
