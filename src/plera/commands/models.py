"""Shared pieces of the command models."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict


def _zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone: {name!r}") from None
    return name


Zone = Annotated[str, AfterValidator(_zone)]


class Command(BaseModel):
    """Commands refuse unknown fields, so a typo is an error, not a silent default."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
