"""The two kinds of model every other module builds on, and the page every list returns."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict

T = TypeVar("T")


class Model(BaseModel):
    """A result: built from rows, so columns it does not name are ignored."""

    model_config = ConfigDict(extra="ignore", from_attributes=True)


class Input(BaseModel):
    """What a caller sends: an unknown field is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """One page of a list, newest first; pass ``next_cursor`` back for the next one."""

    items: list[T]
    next_cursor: str | None = None
