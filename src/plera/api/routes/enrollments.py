"""Per-lead control of one enrollment: pause, resume and stop, each repeatable as a no-op."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from plera.api.auth import CallerDep
from plera.api.deps import EnrollmentId, ServicesDep
from plera.api.models import Instant
from plera.api.problems import responses
from plera.commands.enrollments import control_enrollment
from plera.commands.replies import record_outcome
from plera.commands.workspaces import Caller
from plera.runtime import Services

router = APIRouter(prefix="/enrollments", tags=["enrollments"], responses=responses(401, 404, 409, 422))


class EnrollmentStepOut(BaseModel):
    step: int
    channel: str
    condition: Literal["always", "no_reply"]
    status: Literal["pending", "scheduled", "dispatching", "sent", "skipped", "failed", "outcome_unknown", "bounced"]
    eligible_at: Instant | None
    message_id: str | None
    reason: str | None


class EnrollmentOut(BaseModel):
    id: UUID
    sequence_id: UUID
    lead_id: UUID
    status: Literal["active", "stopped", "completed"]
    paused: bool
    stop_reason: str | None
    replied_at: Instant | None
    next_step: int | None
    version: int
    steps: list[EnrollmentStepOut]


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Literal["replied", "meeting_booked", "not_interested"]


@router.post(
    "/{enrollment_id}/outcome",
    response_model=EnrollmentOut,
    summary="Record a reply by phone or one that was missed: stops the lead like a reply (every sequence), and counts",
    description="Also on a completed or stopped enrollment, which records the reply (credited to the last step"
    " sent) and keeps its status. Repeating the same outcome changes nothing; another outcome is recorded"
    " alone, without stopping anything new.",
)
def post_outcome(sv: ServicesDep, caller: CallerDep, enrollment_id: EnrollmentId, body: OutcomeIn) -> dict[str, Any]:
    return record_outcome(sv, caller.workspace_id, enrollment_id, body.outcome, caller.actor).as_dict()


@router.post("/{enrollment_id}/pause", response_model=EnrollmentOut, summary="Pause one lead in its sequence")
def post_pause(sv: ServicesDep, caller: CallerDep, enrollment_id: EnrollmentId) -> dict[str, Any]:
    return _control(sv, caller, enrollment_id, "pause")


@router.post("/{enrollment_id}/resume", response_model=EnrollmentOut, summary="Resume one lead")
def post_resume(sv: ServicesDep, caller: CallerDep, enrollment_id: EnrollmentId) -> dict[str, Any]:
    return _control(sv, caller, enrollment_id, "resume")


@router.post("/{enrollment_id}/stop", response_model=EnrollmentOut, summary="Stop one lead for good")
def post_stop(sv: ServicesDep, caller: CallerDep, enrollment_id: EnrollmentId) -> dict[str, Any]:
    return _control(sv, caller, enrollment_id, "stop")


def _control(sv: Services, caller: Caller, enrollment_id: UUID, action: str) -> dict[str, Any]:
    return control_enrollment(sv, caller.workspace_id, enrollment_id, action, caller.actor).as_dict()
