"""Shared pieces of the response models.

A response model lists exactly what is answered: fields a view has but the model does not
declare are dropped, so nothing (a secret reference, say) slips out by being added to a view.
"""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")

Instant = Annotated[str, Field(description="ISO 8601, UTC", json_schema_extra={"format": "date-time"})]


class Listed(BaseModel):
    """What every list item carries beside its own fields (from the catalog read model)."""

    created_at: Instant
    version: int = Field(description="the aggregate version the item reflects")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="pass as `cursor` for the next page; null on the last")
