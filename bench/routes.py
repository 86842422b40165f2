"""The routing config every case uses, created once per run through the control plane.

Each case publishes its own event names, so all routes can exist side by side and no
case waits for a config reload:

=================  ====================================  ==============================
event name         destinations                          receiver path
=================  ====================================  ==============================
``bench.one``      1 webhook                             ``/one``
``bench.fan``      10 webhooks                           ``/fan/0`` … ``/fan/9``
``bench.mix``      the same 10 + 1 answering in 2 s      ``/delay/2000/slow``
``bench.scale``    1 webhook answering in 5 ms           ``/delay/5/scale``
=================  ====================================  ==============================
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from eventrouter.router.control import Caller, Control
from eventrouter.router.models.configuration import ChannelIn, DestinationIn, SubscriptionIn
from eventrouter.router.settings import Settings

FANOUT = 10
SLOW_MS = 2000
SCALE_MS = 5
SLOW_DESTINATION = "slow"


def create_routes(engine: Engine, settings: Settings, url: Callable[[str], str]) -> None:
    admin = Control(engine, settings, Caller(org=settings.org))
    admin.channels.add(ChannelIn(name="one", pattern=r"bench\.one"))
    admin.channels.add(ChannelIn(name="fan", pattern=r"bench\.fan"))
    admin.channels.add(ChannelIn(name="mix", pattern=r"bench\.mix"))
    admin.channels.add(ChannelIn(name="scale", pattern=r"bench\.scale"))
    admin.destinations.add(DestinationIn(name="one", type="webhook", config={"url": url("/one")}))
    fan = [f"fan-{i}" for i in range(FANOUT)]
    for i, name in enumerate(fan):
        admin.destinations.add(
            DestinationIn(name=name, type="webhook", config={"url": url(f"/fan/{i}")})
        )
    slow = {"url": url(f"/delay/{SLOW_MS}/slow")}
    admin.destinations.add(DestinationIn(name=SLOW_DESTINATION, type="webhook", config=slow))
    scale = {"url": url(f"/delay/{SCALE_MS}/scale")}
    admin.destinations.add(DestinationIn(name="scale", type="webhook", config=scale))
    admin.subscriptions.add(SubscriptionIn(name="one", channels=["one"], destinations=["one"]))
    admin.subscriptions.add(SubscriptionIn(name="fan", channels=["fan", "mix"], destinations=fan))
    admin.subscriptions.add(
        SubscriptionIn(name="mix-slow", channels=["mix"], destinations=[SLOW_DESTINATION])
    )
    admin.subscriptions.add(
        SubscriptionIn(name="scale", channels=["scale"], destinations=["scale"])
    )
