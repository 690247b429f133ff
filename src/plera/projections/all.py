"""Every projection, in the order they are applied."""

from __future__ import annotations

from plera.projections.catalog import catalog
from plera.projections.due_queue import due_queue
from plera.projections.enrollments import enrollments
from plera.projections.inbox import inbox
from plera.projections.lead_timeline import timeline
from plera.projections.leads import leads
from plera.projections.registry import Projection

# The dashboard, the drill-down and the run overview keep no tables: they query these at read time.
ALL: list[Projection] = [catalog, leads, enrollments, timeline, due_queue, inbox]


def by_name(name: str) -> Projection:
    for projection in ALL:
        if projection.name == name:
            return projection
    raise KeyError(f"no projection {name!r}; there are {', '.join(p.name for p in ALL)}")
