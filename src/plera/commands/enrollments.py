"""Enrollment: leads into sequences, in batches, idempotently; and per-lead pause, resume and stop."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from plera.aggregates.enrollment import LeadEnrollment
from plera.aggregates.lead import Lead, SourceGroup
from plera.aggregates.sender_account import SenderAccount
from plera.aggregates.sender_assignment import Candidate, assign
from plera.aggregates.sequence import Sequence
from plera.aggregates.workspace import Workspace
from plera.commands.next_step import rules_of, schedule_next
from plera.runtime import Services
from plera.scheduling import policy

BATCH = 1000


def enroll_leads(sv: Services, sequence: Sequence, lead_ids: Iterable[UUID], actor: str) -> int:
    """Enrolls the leads not yet in the sequence and schedules their first step. Returns how many were new.

    Enrolling a lead twice is a no-op: the enrollment id is derived from (sequence, lead).
    """
    sequence.check_enrollable()
    ids = list(dict.fromkeys(lead_ids))
    candidates = sender_candidates(sv, sequence)
    # A paused sequence schedules nothing now (start_waiting does, on resume): no rules needed then.
    rules = rules_of(sv.events.get(sequence.workspace_id, Workspace)) if sequence.is_running else None
    enrolled = 0
    for start in range(0, len(ids), BATCH):
        enrolled += _enroll_batch(sv, sequence, candidates, rules, ids[start : start + BATCH], actor)
    return enrolled


def sender_candidates(sv: Services, sequence: Sequence) -> dict[str, list[Candidate]]:
    """The sequence's active senders per channel, weighted by their daily limits."""
    accounts = sv.events.load_many([i for ids in sequence.senders.values() for i in ids])
    return {
        channel: [
            Candidate(a.id, a.daily_limit)
            for i in ids
            if (a := accounts.get(i)) is not None and isinstance(a, SenderAccount) and a.status == "active"
        ]
        for channel, ids in sequence.senders.items()
    }


def senders_for(lead_id: UUID, candidates: dict[str, list[Candidate]]) -> dict[str, UUID]:
    chosen = {channel: assign(lead_id, found) for channel, found in candidates.items()}
    return {channel: sender for channel, sender in chosen.items() if sender is not None}


def _enroll_batch(
    sv: Services,
    sequence: Sequence,
    candidates: dict[str, list[Candidate]],
    rules: policy.SendingRules | None,
    lead_ids: list[UUID],
    actor: str,
) -> int:
    at = sv.clock.now()
    wanted = {LeadEnrollment.create_id(sequence.id, lead_id): lead_id for lead_id in lead_ids}
    known = sv.events.existing(wanted)
    new = [lead_id for eid, lead_id in wanted.items() if eid not in known]
    leads = sv.events.load_many(new) if rules is not None else {}  # what the first step needs: zone, addresses
    fresh = [
        _enroll(sequence, lead_id, senders_for(lead_id, candidates), rules, leads.get(lead_id), at, actor)
        for lead_id in new
    ]
    if not fresh:
        return 0
    try:
        sv.events.save(*fresh)
        return len(fresh)
    except IntegrityError:
        # Another process enrolled some of these meanwhile: fall back to one at a time.
        return sum(_save_alone(sv, e) for e in fresh)


def _enroll(
    sequence: Sequence,
    lead_id: UUID,
    senders: dict[str, UUID],
    rules: policy.SendingRules | None,
    lead: Lead | None,
    at: datetime,
    actor: str,
) -> LeadEnrollment:
    enrollment = LeadEnrollment.enroll(
        sequence_id=sequence.id,
        lead_id=lead_id,
        workspace_id=sequence.workspace_id,
        steps=sequence.steps,
        senders=senders,
        at=at,
        actor=actor,
    )
    # Step 1 is eligible the moment the lead enters; the dispatcher waits for the window. Steps the lead
    # has no address for are skipped now, so its first step may be a later one.
    if rules is not None and isinstance(lead, Lead):
        schedule_next(enrollment, sequence, rules, lead, at=at, actor=actor)
    return enrollment


def _save_alone(sv: Services, enrollment: LeadEnrollment) -> int:
    try:
        sv.events.save(enrollment)
    except IntegrityError:
        return 0
    return 1


def enroll_sequence(sv: Services, sequence: Sequence, actor: str) -> int:
    """Enrolls every lead of the sequence's eligible source groups."""
    groups = sv.events.load_many(sequence.source_group_ids)
    lead_ids = [lead_id for g in groups.values() if g.eligible for lead_id in g.lead_ids]
    return enroll_leads(sv, sequence, lead_ids, actor)


def enroll_arrivals(sv: Services, group: SourceGroup, lead_ids: list[UUID], actor: str) -> int:
    """Leads that became eligible in a group join every launched sequence that draws on it."""
    if not group.eligible or not lead_ids:
        return 0
    enrolled = 0
    for sequence in sv.events.load_many(group.sequence_ids).values():
        if group.id in sequence.source_group_ids and sequence.status in ("active", "paused"):
            enrolled += enroll_leads(sv, sequence, lead_ids, actor)
    return enrolled


def start_waiting(sv: Services, sequence: Sequence, actor: str) -> int:
    """After a sequence resumes: schedules the next step of every lead that waited for it (the leads
    that entered while it was paused, and those whose step came due meanwhile). Steps already
    queued stay queued: the dispatcher takes them at the senders' pace, from the window, so a
    resume does not burst."""
    at = sv.clock.now()
    rules = rules_of(sv.events.get(sequence.workspace_id, Workspace))
    enrollments = enrollments_of(sv, sequence)
    leads = sv.events.load_many(e.lead_id for e in enrollments)
    started = [
        e
        for e in enrollments
        if isinstance(lead := leads.get(e.lead_id), Lead)
        and schedule_next(e, sequence, rules, lead, at=at, actor=actor)
    ]
    if started:
        sv.events.save(*started)
    return len(started)


def enrollments_of(sv: Services, sequence: Sequence) -> list[LeadEnrollment]:
    groups = sv.events.load_many(sequence.source_group_ids)
    lead_ids = {lead_id for g in groups.values() for lead_id in g.lead_ids}
    found = sv.events.load_many(LeadEnrollment.create_id(sequence.id, lead_id) for lead_id in lead_ids)
    return list(found.values())


def control_enrollment(
    sv: Services, workspace_id: UUID, enrollment_id: UUID, action: str, actor: str
) -> LeadEnrollment:
    """Per-lead pause, resume or stop, each repeatable as a no-op."""
    enrollment = sv.events.get(enrollment_id, LeadEnrollment, workspace_id)
    at = sv.clock.now()
    if action == "pause":
        enrollment.pause(reason="manual", at=at, actor=actor)
    elif action == "resume":
        enrollment.resume(at=at, actor=actor)
        sequence = sv.events.get(enrollment.sequence_id, Sequence)
        rules = rules_of(sv.events.get(enrollment.workspace_id, Workspace))
        schedule_next(enrollment, sequence, rules, sv.events.get(enrollment.lead_id, Lead), at=at, actor=actor)
    else:
        enrollment.stop(reason="manual", at=at, actor=actor)
    sv.events.save(enrollment)
    return enrollment
