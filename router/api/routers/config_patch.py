"""A PATCH body is a service's ``…Update`` plus ``enabled``: the update (which validates)
runs first, then the switch, so an invalid change switches nothing."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel

U = TypeVar("U", bound=BaseModel)


def update_part(patch: BaseModel, update_model: type[U]) -> U:
    """The fields of ``patch`` that ``update_model`` takes, as given. It is applied even when
    empty, so the service checks the caller's role for every PATCH."""
    given = {
        name: getattr(patch, name)
        for name in patch.model_fields_set
        if name in update_model.model_fields
    }
    return update_model.model_validate(given)
