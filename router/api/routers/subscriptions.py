"""``/v1/subscriptions``: which channels go to which destinations, org-wide or for one env."""

from __future__ import annotations

from fastapi import APIRouter, Response

from eventrouter.router.api.auth import ControlDep
from eventrouter.router.api.paging import MAX_LIMIT, Cursor, Limit
from eventrouter.router.api.routers.config_patch import update_part
from eventrouter.router.control.cursor import page_of
from eventrouter.router.models.base import Page
from eventrouter.router.models.configuration import Subscription, SubscriptionIn, SubscriptionUpdate

router = APIRouter(tags=["subscriptions"])


class SubscriptionPatch(SubscriptionUpdate):
    enabled: bool | None = None


@router.get("/subscriptions", response_model=Page[Subscription])
def list_subscriptions(
    control: ControlDep, limit: Limit = 20, cursor: Cursor = None
) -> Page[Subscription]:
    return page_of(
        control.subscriptions.list(),
        lambda s: [s.name],
        limit=limit,
        cursor_token=cursor,
        maximum=MAX_LIMIT,
    )


@router.post("/subscriptions", response_model=Subscription, status_code=201)
def add_subscription(spec: SubscriptionIn, control: ControlDep) -> Subscription:
    return control.subscriptions.add(spec)


@router.get("/subscriptions/{name}", response_model=Subscription)
def get_subscription(name: str, control: ControlDep) -> Subscription:
    return control.subscriptions.get(name)


@router.patch("/subscriptions/{name}", response_model=Subscription)
def update_subscription(name: str, patch: SubscriptionPatch, control: ControlDep) -> Subscription:
    """Change it in place: ``channels``/``destinations`` replace the lists, ``add_*`` and
    ``remove_*`` edit them, ``enabled`` switches it."""
    control.subscriptions.update(name, update_part(patch, SubscriptionUpdate))
    if patch.enabled is not None:
        control.subscriptions.set_enabled(name, patch.enabled)
    return control.subscriptions.get(name)


@router.delete("/subscriptions/{name}", status_code=204)
def remove_subscription(name: str, control: ControlDep) -> Response:
    control.subscriptions.remove(name)
    return Response(status_code=204)
