"""After a step is done (sent, skipped, failed, unknown) or a lead may go on again: schedule what comes next.

The timing is the policy's (scheduling/policy.py): a later step is eligible at the window start on
the recipient's calendar day `delay_days` after the previous step went out or was skipped.
"""

from __future__ import annotations

from datetime import datetime

from plera.aggregates.enrollment import LeadEnrollment, StepStatus
from plera.aggregates.lead import Lead
from plera.aggregates.sequence import Sequence
from plera.aggregates.workspace import Workspace
from plera.scheduling import policy


def rules_of(workspace: Workspace) -> policy.SendingRules:
    return policy.SendingRules.from_workspace(
        workspace.timezone,
        workspace.window_start,
        workspace.window_end,
        workspace.sending_days,
        workspace.holiday_countries,
    )


def zone_of(lead: Lead, rules: policy.SendingRules) -> policy.RecipientZone:
    d = lead.details
    return policy.recipient_zone(
        timezone=d.get("timezone"),
        city=d.get("city"),
        country=d.get("country"),
        phone=d.get("phone"),
        workspace_zone=rules.timezone,
    )


def schedule_next(
    enrollment: LeadEnrollment, sequence: Sequence, rules: policy.SendingRules, zone: str, *, at: datetime, actor: str
) -> bool:
    """Schedules the lead's next step if it waits, completes the lead when none is left. False when it
    must wait (the sequence or the lead is paused, or the lead is closed)."""
    if not enrollment.is_open:
        return False
    step = enrollment.next_step
    if step is None:
        return enrollment.complete_if_done(at=at, actor=actor)
    if enrollment.paused or not sequence.is_running or enrollment.step_status(step) is not StepStatus.PENDING:
        return False
    previous = enrollment.last_done_at(step)
    if step == 1 or previous is None:
        eligible = at
    else:
        eligible = policy.later_step_eligible(rules, zone, previous, enrollment.delay_of(step))
    enrollment.schedule(step=step, eligible_at=eligible, sequence_running=True, at=at, actor=actor)
    return True
