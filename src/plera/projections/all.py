"""Every projection, in the order they are applied."""

from __future__ import annotations

from plera.projections.catalog import catalog
from plera.projections.registry import Projection

ALL: list[Projection] = [catalog]


def by_name(name: str) -> Projection:
    for projection in ALL:
        if projection.name == name:
            return projection
    raise KeyError(f"no projection {name!r}; there are {', '.join(p.name for p in ALL)}")
