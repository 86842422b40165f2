"""The control plane: one typed service per resource, shared by the CLI, the HTTP API and
the dashboard (thin adapters that translate input and output, nothing more).

Every service takes the database, the settings and a ``Caller`` (org and role): the org is
explicit and the permission check happens here, so the adapters agree by construction.

    control = Control(engine, settings, Caller(org="acme", role=Role.ADMIN))
    control.channels.add(ChannelIn(name="payments", pattern="payment:.*"))
"""

from __future__ import annotations

from sqlalchemy import Engine

from eventrouter.router.control.caller import Caller, Role
from eventrouter.router.control.channels import Channels
from eventrouter.router.control.configuration import Configuration
from eventrouter.router.control.deliveries import Deliveries
from eventrouter.router.control.destinations import Destinations
from eventrouter.router.control.events import Events
from eventrouter.router.control.overview import Overviews
from eventrouter.router.control.people import People
from eventrouter.router.control.preferences import PreferenceService
from eventrouter.router.control.retention import Retention
from eventrouter.router.control.silences import Silences
from eventrouter.router.control.subscriptions import Subscriptions
from eventrouter.router.control.tokens import Tokens
from eventrouter.router.control.users import Users
from eventrouter.router.settings import Settings


class Control:
    """Every service, for one caller."""

    def __init__(self, engine: Engine, settings: Settings, caller: Caller) -> None:
        self.caller = caller
        self.channels = Channels(engine, settings, caller)
        self.configuration = Configuration(engine, settings, caller)
        self.destinations = Destinations(engine, settings, caller)
        self.subscriptions = Subscriptions(engine, settings, caller)
        self.silences = Silences(engine, settings, caller)
        self.events = Events(engine, settings, caller)
        self.deliveries = Deliveries(engine, settings, caller)
        self.users = Users(engine, settings, caller)
        self.tokens = Tokens(engine, settings, caller)
        self.preferences = PreferenceService(engine, settings, caller)
        self.people = People(engine, settings, caller)
        self.overview = Overviews(engine, settings, caller)
        self.retention = Retention(engine, settings, caller)


__all__ = ["Caller", "Control", "Role"]
