"""The send protocol's re-check (ARCHITECTURE.md, step 2): before a claimed step is decided, it is
checked against the truth, not the read model: the enrollment, lead, sequence, sender and workspace
as stored, loaded for a whole pass (each kind in one query), and the suppression list. The step
still waits, no reply came for a no_reply step, the lead, sequence and sender are active, the
recipient's window is open, the lead can be reached on the channel and is not suppressed, and the
message can be made: the approved text renders and the email can be written. The answer is a
verdict: give the claim back, skip the step, fail it for good (the message cannot be made), move the
lead to another sender (its own was taken out of the sequence's), or ready.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from plera.aggregates.enrollment import LeadEnrollment, StepStatus, message_id_for, missing_address
from plera.aggregates.lead import Lead
from plera.aggregates.sender_account import SenderAccount
from plera.aggregates.sequence import Sequence
from plera.aggregates.workspace import Workspace
from plera.commands.claims import Claim
from plera.commands.failover import move_for
from plera.commands.next_step import reachable_on, rules_of, zone_of
from plera.commands.outbound import OutboundMessage, Unrenderable
from plera.commands.suppressions import suppression_for
from plera.runtime import Services
from plera.scheduling import policy

log = logging.getLogger(__name__)
A = TypeVar("A")

ACCEPT_TIMEOUT = timedelta(days=14)  # a LinkedIn message waits this long for its invite's acceptance


@dataclass(frozen=True)
class Where:
    """A claimed step and what it is re-checked against."""

    claim: Claim
    enrollment: LeadEnrollment
    sequence: Sequence
    rules: policy.SendingRules
    zone: str
    lead: Lead  # what the step after it is scheduled for


@dataclass(frozen=True)
class Release:
    refund: bool
    not_before: datetime | None
    name: str  # cancelled or deferred


@dataclass(frozen=True)
class Skip:
    where: Where
    reason: str


@dataclass(frozen=True)
class Fail:
    """The message cannot be made for this lead: the step fails for good, never dispatched."""

    where: Where
    message_id: str
    reason: str


@dataclass(frozen=True)
class Ready:
    """May go: once its StepDispatching is appended, it is decided."""

    where: Where
    sender: SenderAccount
    message: OutboundMessage


@dataclass(frozen=True)
class Reassign:
    """Its sender was taken out of the sequence's senders: the lead moves to another (failover.py), not sent now."""

    where: Where


Verdict = Release | Skip | Fail | Ready | Reassign
CANCELLED = Release(refund=True, not_before=None, name="cancelled")
MOVE_SETTLES = timedelta(minutes=1)  # a moved step's queue row names its new sender by then (SenderReassigned)


@dataclass(frozen=True)
class Known:
    """The truth a pass re-checks against, each kind of aggregate loaded in one query."""

    enrollments: dict[UUID, LeadEnrollment]
    leads: dict[UUID, Lead]
    sequences: dict[UUID, Sequence]
    rules: dict[UUID, policy.SendingRules]  # by workspace
    senders: dict[UUID, SenderAccount]

    @classmethod
    def load(cls, sv: Services, claims: list[Claim]) -> Known:
        enrollments = _only(LeadEnrollment, sv.events.load_many(c.enrollment_id for c in claims))
        found = enrollments.values()
        return cls(
            enrollments=enrollments,
            leads=_only(Lead, sv.events.load_many(e.lead_id for e in found)),
            sequences={i: sv.events.get(i, Sequence) for i in {e.sequence_id for e in found}},
            rules={
                i: rules_of(w) for i, w in _only(Workspace, sv.events.load_many(e.workspace_id for e in found)).items()
            },
            senders=_only(SenderAccount, sv.events.load_many(c.sender_id for c in claims if c.sender_id is not None)),
        )

    def where(self, claim: Claim) -> Where | None:
        enrollment = self.enrollments.get(claim.enrollment_id)
        if enrollment is None:
            return None
        sequence = self.sequences.get(enrollment.sequence_id)
        lead = self.leads.get(enrollment.lead_id)
        rules = self.rules.get(enrollment.workspace_id)
        if sequence is None or lead is None or rules is None:
            return None
        return Where(claim, enrollment, sequence, rules, zone_of(lead, rules).zone, lead)


def recheck(sv: Services, known: Known, claim: Claim, now: datetime) -> Verdict:
    """2. Whether the step may go now, against the truth."""
    where = known.where(claim)
    if where is None:
        log.warning("claim of %s step %s names an aggregate that is not stored", claim.enrollment_id, claim.step)
        return CANCELLED
    enrollment, step = where.enrollment, claim.step
    if not still_waiting(enrollment, step) or not where.sequence.is_running:
        return CANCELLED
    if not policy.is_open(where.rules, where.zone, now):
        return Release(refund=True, not_before=policy.next_opening(where.rules, where.zone, now), name="deferred")
    sender = known.senders.get(claim.sender_id) if claim.sender_id is not None else None
    if sender is not None and sender.status != "active":
        return CANCELLED
    if claim.sender_id is not None and claim.sender_id != enrollment.sender_of(step):
        # Moved to another sender since the queue row was written: it comes back naming that one.
        return Release(refund=True, not_before=now + MOVE_SETTLES, name="deferred")
    if sender is not None and move_for(enrollment, step, where.sequence, {sender.id: sender}, sv) is not None:
        return Reassign(where)
    lead = known.leads[enrollment.lead_id]
    skip = _reason_to_skip(sv, enrollment, lead, sender, where.sequence, step, now)
    if skip == "wait":
        deadline = (enrollment.invite_sent_at() or now) + ACCEPT_TIMEOUT
        return Release(refund=True, not_before=deadline, name="deferred")
    if skip is not None:
        return Skip(where, skip)
    assert sender is not None
    message_id = message_id_for(enrollment.id, step, enrollment.message_attempt(step))
    try:  # rendered before the decision: nothing but the append may stand between the re-check and it
        message = OutboundMessage.for_step(sv, where.sequence, enrollment, lead, sender, step, message_id, now)
    except Unrenderable as e:
        return Fail(where, message_id, str(e))
    return Ready(where, sender, message)


def _only(kind: type[A], found: dict[UUID, Any]) -> dict[UUID, A]:
    return {i: x for i, x in found.items() if isinstance(x, kind)}


def still_waiting(enrollment: LeadEnrollment, step: int) -> bool:
    if not enrollment.is_open or enrollment.paused or enrollment.next_step != step:
        return False
    if enrollment.step_status(step) is not StepStatus.SCHEDULED:
        return False
    return not (enrollment.replied_at is not None and enrollment.condition_of(step).value == "no_reply")


def _reason_to_skip(
    sv: Services,
    enrollment: LeadEnrollment,
    lead: Lead,
    sender: SenderAccount | None,
    sequence: Sequence,
    step: int,
    now: datetime,
) -> str | None:
    """Why the step cannot go out to this lead at all (it is skipped), "wait" for an invite's
    acceptance, or None when it may go."""
    channel = enrollment.channel_of(step)
    if sender is None:
        return "no sender account for this channel"
    if (missing := missing_address(channel, reachable_on(lead))) is not None:  # scheduling skips these: a safety net
        return missing
    suppressed = suppression_for(
        sv,
        lead.workspace_id,
        email=lead.details.get("email") if channel == "email" else None,
        linkedin_url=lead.details.get("linkedin_url") if channel != "email" else None,
    )
    if suppressed is not None:
        return f"suppressed: {suppressed['skip_reason']}"
    if sequence.approved_text(step, lead.id) is None:
        return "no approved message"
    if enrollment.waits_for_acceptance(step):
        sent = enrollment.invite_sent_at()
        if sent is not None and now < sent + ACCEPT_TIMEOUT:
            return "wait"
        return "the LinkedIn invite was not accepted in time"
    return None
