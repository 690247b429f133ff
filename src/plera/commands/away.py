"""Out-of-office pauses end on their own: the lead resumes on its return date and goes on."""

from __future__ import annotations

from uuid import UUID

from plera.aggregates.enrollment import LeadEnrollment
from plera.aggregates.lead import Lead
from plera.aggregates.sequence import Sequence
from plera.aggregates.workspace import Workspace
from plera.commands.changes import change
from plera.commands.next_step import rules_of, schedule_next
from plera.runtime import Services

ACTOR = "worker"


def wake_returned(sv: Services, *, limit: int = 500, workspace_id: UUID | None = None) -> int:
    """Resumes the leads (of one workspace, or of all) whose out-of-office pause is over; returns how many."""
    now = sv.clock.now()
    with sv.db.pool.connection() as conn:
        rows = conn.execute(
            "SELECT enrollment_id FROM read.due_enrollments WHERE away_until <= %s"
            " AND (%s::uuid IS NULL OR workspace_id = %s) LIMIT %s",
            (now, workspace_id, workspace_id, limit),
        ).fetchall()
    woken = 0
    for (enrollment_id,) in rows:

        def back(e: LeadEnrollment) -> bool:
            if not e.back_from_away(at=now, actor=ACTOR):
                return False
            sequence = sv.events.get(e.sequence_id, Sequence)
            rules = rules_of(sv.events.get(e.workspace_id, Workspace))
            schedule_next(e, sequence, rules, sv.events.get(e.lead_id, Lead), at=now, actor=ACTOR)
            return True

        woken += change(sv, enrollment_id, back)
    return woken
