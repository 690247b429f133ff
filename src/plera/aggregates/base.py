"""The base of every Plera aggregate: each event carries its actor, and its time is `at`.

The library would stamp events with the wall clock; here the caller's `at` (from plera.clock)
becomes the event's timestamp, so the simulated clock, history `at` and ce_time agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self
from uuid import UUID

from eventsourcing.domain import Aggregate


class PleraAggregate(Aggregate):
    class Event(Aggregate.Event):
        workspace_id: UUID  # every event names its tenant: Kafka's ce_source and the read models need it
        actor: str

    class Created(Event, Aggregate.Created):
        pass

    @classmethod
    def _record_created(
        cls, event_class: type[Aggregate.Created], *, id: UUID, at: datetime, actor: str, **data: Any
    ) -> Self:
        return cls._create(event_class, id=id, timestamp=at, actor=actor, **data)

    def _record(self, event_class: type[Aggregate.Event], *, at: datetime, actor: str, **data: Any) -> None:
        workspace_id = self.__dict__["workspace_id"]  # every aggregate sets it in __init__
        self.trigger_event(event_class, timestamp=at, actor=actor, workspace_id=workspace_id, **data)
