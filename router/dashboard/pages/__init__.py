"""The dashboard's pages, one module per tab: each handler reads the request, calls one
service through ``Page.control`` and renders a template."""

from __future__ import annotations

from fastapi import APIRouter

from eventrouter.router.dashboard.pages import (
    auth,
    channels,
    destinations,
    history,
    notifications,
    overview,
    people,
    silences,
    subscriptions,
)

ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    overview.router,
    destinations.router,
    subscriptions.router,
    channels.router,
    history.router,
    notifications.router,
    silences.router,
    people.router,
)
