"""What one API process shares between requests: settings, a pooled engine, a Redis client."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from fastapi import Request
from sqlalchemy import Engine

from eventrouter.router.settings import Settings


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    redis: redis.Redis


def app_state(request: Request) -> AppState:
    state: AppState = request.app.state.eventrouter
    return state
