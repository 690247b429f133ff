"""Recovery: claims whose worker stopped (killed, or lost) after their lease ran out.

A step still in Dispatching may or may not have gone out: it becomes SendOutcomeUnknown and is
never resent (ARCHITECTURE.md: at most once; a duplicate cold email is worse than a missing one),
and the lead goes on to its next step. A step the worker never reached is simply free again.
"""

from __future__ import annotations

from uuid import UUID

from plera.aggregates.enrollment import LeadEnrollment, StepStatus
from plera.aggregates.lead import Lead
from plera.aggregates.sequence import Sequence
from plera.aggregates.workspace import Workspace
from plera.commands.changes import change
from plera.commands.claims import Claim, finish
from plera.commands.next_step import rules_of, schedule_next
from plera.runtime import Services

ACTOR = "worker"


def recover_expired(sv: Services, *, limit: int = 100) -> int:
    """Settles up to `limit` expired claims. Returns how many."""
    settled = 0
    with sv.db.pool.connection() as conn, conn.transaction():
        rows = conn.execute(
            "SELECT c.enrollment_id, c.step, c.workspace_id, c.sender_id, c.day, c.new_lead, c.invite, c.slot_until"
            " FROM plera_claims c LEFT JOIN read.due_queue d ON d.enrollment_id = c.enrollment_id AND d.step = c.step"
            " WHERE c.lease_until < clock_timestamp() ORDER BY c.lease_until LIMIT %s FOR UPDATE OF c SKIP LOCKED",
            (limit,),
        ).fetchall()
        for enrollment_id, step, workspace_id, sender_id, day, new_lead, invite, slot_until in rows:
            enrollment = sv.events.get(enrollment_id, LeadEnrollment)
            claim = Claim(
                enrollment_id,
                step,
                workspace_id,
                enrollment.sequence_id,
                enrollment.lead_id,
                enrollment.channel_of(step),
                sender_id,
                "",
                day,
                new_lead,
                invite,
                slot_until,
            )
            status = enrollment.step_status(step)
            if status is StepStatus.DISPATCHING:
                _outcome_unknown(sv, enrollment.id, step)
                finish(conn, claim, refund=False)  # it may have gone out: its capacity stays taken
            else:
                conn.execute(
                    "UPDATE read.due_queue SET claimed_by = NULL, lease_until = NULL WHERE enrollment_id = %s AND step = %s",
                    (enrollment_id, step),
                )
                finish(conn, claim, refund=status is StepStatus.SCHEDULED)
            settled += 1
    return settled


def _outcome_unknown(sv: Services, enrollment_id: UUID, step: int) -> None:
    def settled(enrollment: LeadEnrollment) -> bool:
        if enrollment.step_status(step) is not StepStatus.DISPATCHING:
            return False  # the worker recorded its outcome after all
        now = sv.clock.now()
        enrollment.record_outcome_unknown(step=step, at=now, actor=ACTOR)
        sequence = sv.events.get(enrollment.sequence_id, Sequence)
        rules = rules_of(sv.events.get(enrollment.workspace_id, Workspace))
        schedule_next(enrollment, sequence, rules, sv.events.get(enrollment.lead_id, Lead), at=now, actor=ACTOR)
        return True

    change(sv, enrollment_id, settled)
