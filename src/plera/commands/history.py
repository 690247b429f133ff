"""The auditor's replay: a lead's events and its enrollments', read from the event store itself."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from plera.aggregates.enrollment import LeadEnrollment
from plera.aggregates.lead import Lead
from plera.envelope import envelope_of
from plera.runtime import Services


def lead_history(
    sv: Services, workspace_id: UUID | None, lead_id: UUID, as_of: datetime | None = None
) -> dict[str, Any]:
    """Every event of the lead and its enrollments up to `as_of`, in time order, and the enrollments then.

    Without `as_of`, every event: not "up to now", since events are stamped by the clock of the processes
    that recorded them (a simulated one may be days ahead of this process's); the answer's `as_of` is
    then the last event's time. With no workspace (the operator's CLI) the lead is found in any workspace.
    """
    lead = sv.events.get(lead_id, Lead, workspace_id)
    groups = sv.events.load_many(lead.source_group_ids).values()
    sequence_ids = {s for g in groups for s in g.sequence_ids}
    enrollment_ids = sorted(sv.events.existing(LeadEnrollment.create_id(s, lead_id) for s in sequence_ids))
    stored = sv.events.stored_events([lead_id, *enrollment_ids])  # commit order: each aggregate's in version order
    events = [e for e in stored if as_of is None or e.timestamp <= as_of]
    # Stable on commit order: events of one instant (a clock that stands still) keep their causal order.
    events.sort(key=lambda e: e.timestamp)
    # The state folds each enrollment's events in version order, up to the first one after `as_of`: a
    # simulated clock set back makes a later event older than its predecessors (sorted by time, one came
    # before its aggregate's first event), and an event applies only on top of those before it.
    state: dict[UUID, Any] = {}
    closed: set[UUID] = set()
    for event in stored:
        aggregate = event.originator_id
        if aggregate == lead_id or aggregate in closed:
            continue
        if as_of is not None and event.timestamp > as_of:
            closed.add(aggregate)
            continue
        state[aggregate] = event.mutate(state.get(aggregate))
    views = [event_view(e) for e in events]
    last = views[-1]["at"] if views else None
    return {
        "lead_id": str(lead_id),
        "as_of": as_of.isoformat() if as_of is not None else last,
        "events": views,
        "state": [e.as_dict() for e in state.values()],
    }


def event_view(event: Any) -> dict[str, Any]:
    envelope = envelope_of(event)
    return {
        "at": envelope.occurred_at.isoformat(),
        "type": envelope.type,
        "aggregate_id": str(envelope.aggregate_id),
        "version": envelope.aggregate_version,
        "actor": envelope.actor,
        "data": envelope.payload,
    }
