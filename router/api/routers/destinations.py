"""``/v1/destinations``: where deliveries go (secrets masked on the way out), test sends and
signing-secret rotation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from eventrouter.router.api.auth import ControlDep
from eventrouter.router.api.paging import MAX_LIMIT, Cursor, Limit
from eventrouter.router.api.routers.config_patch import update_part
from eventrouter.router.control.cursor import page_of
from eventrouter.router.control.test_send import summary
from eventrouter.router.durations import parse_duration
from eventrouter.router.errors import ConfigError
from eventrouter.router.models.base import Input, Page
from eventrouter.router.models.configuration import (
    Destination,
    DestinationIn,
    DestinationUpdate,
    SecretRotation,
    TestResult,
)

router = APIRouter(tags=["destinations"])


class DestinationPatch(DestinationUpdate):
    enabled: bool | None = None
    """``false`` disables it (its open deliveries are cancelled); ``true`` enables it."""


class TestRequest(Input):
    __test__ = False  # not a pytest class

    env: str | None = None
    """The test event's environment."""


class TestSent(TestResult):
    message: str
    """What happened, in one line."""


class Rotation(Input):
    secret: str | None = None
    """The new secret (``whsec_…``); generated when unset."""
    grace: str = "24h"
    """How long the previous secret keeps co-signing."""


class Removed(BaseModel):
    detached_from: list[str]
    """Subscriptions the destination was removed from (with ``force``)."""


@router.get("/destinations", response_model=Page[Destination])
def list_destinations(
    control: ControlDep, limit: Limit = 20, cursor: Cursor = None
) -> Page[Destination]:
    """The org's destinations by name, secrets masked."""
    return page_of(
        control.destinations.list(),
        lambda d: [d.name],
        limit=limit,
        cursor_token=cursor,
        maximum=MAX_LIMIT,
    )


@router.post("/destinations", response_model=Destination, status_code=201)
def add_destination(spec: DestinationIn, control: ControlDep) -> Destination:
    """Add a destination; ``config`` is its type's config (the CLI's options, by name). With
    ``generate_secret``, the signing secret is in this answer only."""
    return control.destinations.add(spec)


@router.get("/destinations/{name}", response_model=Destination)
def get_destination(name: str, control: ControlDep) -> Destination:
    return control.destinations.get(name)


@router.patch("/destinations/{name}", response_model=Destination)
def update_destination(name: str, patch: DestinationPatch, control: ControlDep) -> Destination:
    """Change it in place: ``config`` is merged key by key (``null`` removes a key)."""
    control.destinations.update(name, update_part(patch, DestinationUpdate))
    if patch.enabled is not None:
        control.destinations.set_enabled(name, patch.enabled)
    return control.destinations.get(name)


@router.delete("/destinations/{name}", response_model=Removed)
def remove_destination(
    name: str,
    control: ControlDep,
    force: Annotated[bool, Query(description="Detach it from subscriptions that use it.")] = False,
) -> Removed:
    """Remove it: its open deliveries are cancelled, its history kept."""
    return Removed(detached_from=control.destinations.remove(name, force=force))


@router.post("/destinations/{name}/test", response_model=TestSent)
def test_destination(
    name: str, control: ControlDep, request: TestRequest | None = None
) -> TestSent:
    """Send ``eventrouter:test`` now and say what happened (recorded like any delivery)."""
    result = control.destinations.test(name, env=request.env if request else None)
    return TestSent(**result.model_dump(), message=summary(result))


@router.post("/destinations/{name}/rotate-secret", response_model=SecretRotation)
def rotate_secret(
    name: str, control: ControlDep, request: Rotation | None = None
) -> SecretRotation:
    """A new signing secret, shown in this answer only; the old one co-signs for ``grace``."""
    request = request or Rotation()
    try:
        grace = parse_duration(request.grace)
    except ValueError as exc:
        raise ConfigError(f"grace: {exc}") from None
    return control.destinations.rotate_secret(name, secret=request.secret, grace_seconds=grace)
