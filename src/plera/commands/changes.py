"""One command's changes to several aggregates, recorded in one transaction: all of them or none.

A reply, for one, changes the lead's inbox, each of the person's enrollments and perhaps their
colleagues'. Saved one by one, a crash between two saves would leave the reply half applied, and
each save would wait its turn for the event table's lock. `atomically` loads what the command
reads, lets it change the aggregates in memory, and saves every change at once; when another
writer got in first (the version check refuses the append), it decides again on what is now stored.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from plera.aggregates.base import PleraAggregate
from plera.aggregates.enrollment import LeadEnrollment
from plera.eventstore import checked
from plera.runtime import Services

T = TypeVar("T")
A = TypeVar("A", bound=PleraAggregate)

ATTEMPTS = 10  # a busy aggregate (a suppression list in a wave of bounces) may lose a version check or two


class AlreadyTaken(Exception):
    """The webhook delivery was recorded by another request first."""


class Changes:
    """The aggregates a command loaded, each loaded once, and changed in memory until it is saved."""

    def __init__(self, sv: Services) -> None:
        self.sv = sv
        self._loaded: dict[UUID, Any] = {}

    def get(self, aggregate_id: UUID, kind: type[A], workspace_id: UUID | None = None) -> A:
        """As `EventStore.get`: NotFound when missing, of another kind or another workspace's."""
        found = self._loaded.get(aggregate_id)
        if found is None:
            found = self._loaded[aggregate_id] = self.sv.events.get(aggregate_id, kind, workspace_id)
            return found
        return checked(found, aggregate_id, kind, workspace_id)

    def many(self, ids: Iterable[UUID]) -> dict[UUID, Any]:
        """Those of these aggregates that exist, with the ones not loaded yet read in one query."""
        wanted = set(ids)
        missing = wanted - self._loaded.keys()
        if missing:
            self._loaded.update(self.sv.events.load_many(missing))
        return {i: self._loaded[i] for i in wanted if i in self._loaded}

    def add(self, aggregate: Any) -> Any:
        """An aggregate the command created, saved with the rest."""
        self._loaded[aggregate.id] = aggregate
        return aggregate

    def pending(self) -> list[Any]:
        return [a for a in self._loaded.values() if a.pending_events]


def atomically(sv: Services, decide: Callable[[Changes], T], *, delivery: tuple[UUID, str] | None = None) -> T:
    """Runs `decide` on freshly loaded aggregates and saves all it changed in one transaction, with the
    webhook `delivery` (workspace id, delivery id) when given: AlreadyTaken if that was recorded first."""
    for attempt in range(1, ATTEMPTS + 1):
        changes = Changes(sv)
        result = decide(changes)
        pending = changes.pending()
        if not pending and delivery is None:
            return result
        try:
            sv.events.save(*pending, delivery=delivery)
            return result
        except IntegrityError:
            if delivery is not None and taken(sv, *delivery):
                raise AlreadyTaken(delivery[1]) from None
            # Truncated exponential backoff with jitter: a burst of writers on one aggregate (unmatched
            # mail on its workspace) spreads out instead of colliding again and again.
            time.sleep(random.uniform(0, min(0.2, 0.002 * 2**attempt)))
    raise RuntimeError(f"gave up after {ATTEMPTS} conflicting writes")


def change(sv: Services, aggregate_id: UUID, apply: Callable[[Any], bool], kind: type = LeadEnrollment) -> bool:
    """Applies a change to one aggregate (an enrollment unless `kind` says otherwise) as it is now.
    False when `apply` found nothing to do."""
    return atomically(sv, lambda changes: apply(changes.get(aggregate_id, kind)))


def taken(sv: Services, workspace_id: UUID, delivery_id: str) -> bool:
    with sv.db.pool.connection() as conn:
        row = conn.execute(
            "SELECT 1 FROM plera_webhook_events WHERE workspace_id = %s AND event_id = %s", (workspace_id, delivery_id)
        ).fetchone()
    return row is not None
