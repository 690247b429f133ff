"""The soak's ledger: every decided send of the launched sequence against what the SMTP sink received."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from soak_world import World

from plera.aggregates.channels import Condition
from plera.aggregates.enrollment import DONE, LeadEnrollment
from plera.aggregates.lead import SourceGroup
from plera.runtime import Services

# --------------------------------------------------------------------------- the ledger


@dataclass
class Ledger:
    enrollments: int = 0
    at_sink: int = 0
    decided: int = 0
    sent: int = 0
    unknown: int = 0
    failed: int = 0
    duplicates: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    after_reply: list[str] = field(default_factory=list)
    while_paused: list[str] = field(default_factory=list)
    unrecorded: list[str] = field(default_factory=list)
    backlog: int = 0
    replied_leads: int = 0
    stopped_by_reply: int = 0
    paused_at_end: int = 0


def draw_ledger(sv: Services, world: World, received: list[tuple[str, str, str, float]], queued: set[Any]) -> Ledger:
    ledger = Ledger(at_sink=len(received))
    at_sink = collections.Counter(message_id for message_id, *_ in received)
    ledger.duplicates += [f"{mid} arrived {n} times" for mid, n in at_sink.items() if n > 1]
    group = sv.events.get(world.live_group, SourceGroup)
    ids = [LeadEnrollment.create_id(world.sequence_id, lead_id) for lead_id in group.lead_ids]
    decided: dict[str, tuple[UUID, int]] = {}
    outcome: dict[str, str] = {}
    step_ids: dict[tuple[UUID, int], set[str]] = collections.defaultdict(set)
    now = datetime.now(UTC)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        states: dict[UUID, LeadEnrollment] = {}
        for event in sv.events.stored_events(chunk):
            eid = event.originator_id
            before = states.get(eid)
            name = type(event).__name__
            if name == "StepDispatching" and before is not None:
                decided[event.message_id] = (eid, event.step)
                step_ids[(eid, event.step)].add(event.message_id)
                no_reply = before.condition_of(event.step) is Condition.NO_REPLY
                if before.replied_at is not None and no_reply:
                    ledger.after_reply.append(f"{eid} step {event.step} ({event.message_id})")
                if before.paused:
                    ledger.while_paused.append(f"{eid} step {event.step} ({event.message_id})")
            elif name in ("MessageSent", "SendOutcomeUnknown", "StepSendFailed"):
                outcome[event.message_id] = name
            states[eid] = event.mutate(before)
        for eid, e in states.items():
            ledger.enrollments += 1
            ledger.replied_leads += e.replied_at is not None
            ledger.stopped_by_reply += sum(1 for s in e.steps if s["status"] == "skipped" and s["reason"] == "replied")
            ledger.paused_at_end += e.is_open and e.paused
            step = e.next_step
            if step is None or not e.is_open or e.paused:
                continue
            state = e.steps[step - 1]
            if state["status"] == "scheduled" and state["eligible_at"] <= now:
                if (eid, step) in queued:
                    ledger.backlog += 1
                else:
                    ledger.lost.append(
                        f"{eid} step {step}: due since {state['eligible_at']:%H:%M:%S}, not in the queue"
                    )
            elif state["status"] == "pending" and (step == 1 or e.steps[step - 2]["status"] in {s.value for s in DONE}):
                ledger.lost.append(f"{eid} step {step}: pending, never scheduled")
    ledger.decided = len(decided)
    for message_id, (eid, step) in decided.items():
        result = outcome.get(message_id)
        ledger.sent += result == "MessageSent"
        ledger.unknown += result == "SendOutcomeUnknown"
        ledger.failed += result == "StepSendFailed"
        if result == "MessageSent" and message_id not in at_sink:
            ledger.lost.append(f"{eid} step {step}: recorded sent ({message_id}), never at the sink")
        if result is None and message_id not in at_sink:
            ledger.lost.append(f"{eid} step {step}: decided ({message_id}), no outcome and not at the sink")
    for (eid, step), mids in step_ids.items():
        if len([m for m in mids if m in at_sink]) > 1:
            ledger.duplicates.append(f"{eid} step {step} reached the sink under {len(mids)} Message-IDs")
    ledger.unrecorded = [f"{mid}" for mid in at_sink if mid not in decided]
    return ledger


def queued_steps(sv: Services) -> set[tuple[UUID, int]]:
    with sv.db.pool.connection() as conn:
        return {(r[0], r[1]) for r in conn.execute("SELECT enrollment_id, step FROM read.due_queue").fetchall()}


def due_now(sv: Services, sequence_id: UUID) -> tuple[int, int]:
    """(the sequence's rows of the due queue that could be claimed within seconds, claims held)."""
    with sv.db.pool.connection() as conn:
        due = conn.execute(
            "SELECT count(*) FROM read.due_queue"  # a sender's next slot, a second or so away, counts as due
            " WHERE sequence_id = %s AND NOT paused AND coalesce(not_before, eligible_at) <= now() + interval '10 seconds'",
            (sequence_id,),
        ).fetchone()
        held = conn.execute("SELECT count(*) FROM plera_claims").fetchone()
    return int(due[0]) if due else 0, int(held[0]) if held else 0
