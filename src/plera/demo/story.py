"""The simulated days: the launched sequence runs while the demo plays the leads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from plera.aggregates.enrollment import DONE, LeadEnrollment, StepStatus
from plera.aggregates.lead import Lead
from plera.aggregates.workspace import Workspace
from plera.commands.next_step import rules_of, zone_of
from plera.demo.reactions import OtherSide, reactions
from plera.demo.week import MovableClock, whole_second
from plera.runtime import Services
from plera.scheduling.worker import Worker


class Story:
    """The clock moves to the next moment something is due (a step's eligible time, a sender's next
    slot, a recipient's window, the end of an out-of-office) or a lead reacts. At each one the worker's
    jobs run in this thread (wake the leads back from an absence, dispatch what is due) and the read
    models catch up, as the running service's ticks would."""

    def __init__(
        self,
        sv: Services,
        clock: MovableClock,
        catch_up: Callable[[], Any],
        workspace_id: UUID,
        sequence_id: UUID,
        leads: dict[UUID, Lead],
        other_side: OtherSide,
    ) -> None:
        self.sv, self.clock, self.catch_up = sv, clock, catch_up
        self.workspace_id, self.sequence_id = workspace_id, sequence_id
        self.leads = leads
        self.other_side = other_side
        self.reactions = reactions()
        self.by_first_name = {lead.details.get("first_name"): lead for lead in leads.values()}
        rules = rules_of(sv.events.get(workspace_id, Workspace))
        self.zones = {lead.id: zone_of(lead, rules).zone for lead in leads.values()}

    def run(self, *, until: datetime) -> None:
        worker = Worker(self.sv, name="demo", workspace_id=self.workspace_id)
        try:
            while True:
                self._react()
                worker.wake()
                self._dispatch(worker)  # which catches up first, with what the wake changed
                self._plan_reactions()
                wake = self._next_wake()
                if wake is None or wake > until:
                    break
                self.clock.set(whole_second(wake))
        finally:
            worker.stop()
        if self.clock.now() < until:
            self.clock.set(until)

    def enrollment(self, lead: Lead) -> LeadEnrollment:
        return self.sv.events.get(LeadEnrollment.create_id(self.sequence_id, lead.id), LeadEnrollment)

    def _dispatch(self, worker: Worker) -> None:
        while True:
            self.catch_up()
            if worker.dispatch_due() == 0:
                break
        self.catch_up()

    def _plan_reactions(self) -> None:
        for reaction in self.reactions:
            if reaction.at is not None or reaction.never:
                continue
            enrollment = self.enrollment(self.by_first_name[reaction.first_name])
            status = enrollment.step_status(reaction.after_step)
            if status is StepStatus.SENT:
                sent_at = datetime.fromisoformat(enrollment.steps[reaction.after_step - 1]["done_at"])
                reaction.at = sent_at + reaction.delay
            elif status in DONE or not enrollment.is_open:
                reaction.never = True

    def _react(self) -> None:
        now = self.clock.now()
        for reaction in self.reactions:
            if reaction.at is None or reaction.happened_at is not None or reaction.at > now:
                continue
            lead = self.by_first_name[reaction.first_name]
            reaction.answer = self.other_side.react(reaction, lead, self.enrollment(lead), self.zones[lead.id], now)
            reaction.happened_at = now
            self.catch_up()

    def _next_wake(self) -> datetime | None:
        now = self.clock.now()
        planned = [r.at for r in self.reactions if r.at is not None and r.happened_at is None]
        due = (_next_due(self.sv, self.workspace_id, now), _next_return(self.sv, self.workspace_id, now))
        candidates = [t for t in (*due, *planned) if t is not None]
        return max(min(candidates), now) if candidates else None


def _next_due(sv: Services, workspace_id: UUID, after: datetime) -> datetime | None:
    """When the dispatcher will next find something of the workspace to look at: a queued step's
    eligible time, or the later time it set on the row itself (window, sender slot, next day)."""
    with sv.db.pool.connection() as conn:
        row = conn.execute(
            "SELECT min(coalesce(not_before, eligible_at)) FROM read.due_queue"
            " WHERE workspace_id = %s AND NOT paused AND coalesce(not_before, eligible_at) > %s",
            (workspace_id, after),
        ).fetchone()
    return row[0] if row and row[0] is not None else None


def _next_return(sv: Services, workspace_id: UUID, after: datetime) -> datetime | None:
    """When the next lead of the workspace is back from an out-of-office, for the worker's wake job."""
    with sv.db.pool.connection() as conn:
        row = conn.execute(
            "SELECT min(away_until) FROM read.due_enrollments WHERE workspace_id = %s AND away_until > %s",
            (workspace_id, after),
        ).fetchone()
    return row[0] if row and row[0] is not None else None
