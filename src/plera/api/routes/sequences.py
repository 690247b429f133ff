"""Sequences: create, change while draft, launch, pause, resume and archive."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from plera.aggregates.sequence import Sequence
from plera.api.auth import CallerDep
from plera.api.deps import Paging, PagingDep, SequenceId, ServicesDep, catalog_page
from plera.api.models import Instant, Listed, Page
from plera.api.problems import responses
from plera.commands.resume_preview import resume_preview
from plera.commands.sequences import (
    ChangeSequence,
    CreateSequence,
    change_sequence,
    create_sequence,
    launch_sequence,
    set_sequence_state,
)
from plera.commands.workspaces import Caller
from plera.projections.dashboard import dashboard_for, sequence_dashboard, sequence_problems
from plera.projections.drilldown import sequence_leads
from plera.runtime import Services

router = APIRouter(prefix="/sequences", tags=["sequences"], responses=responses(401, 404, 422))

SequenceStatus = Literal["draft", "active", "paused", "completed", "archived"]
LeadStatus = Literal["active", "paused", "stopped", "completed"]
Channel = Literal["email", "linkedin_invite", "linkedin_message"]


class MessageOut(BaseModel):
    subject: str | None
    body: str
    version: int = Field(description="the working version; drafts and edits make a new one")
    approved: bool = Field(description="the working version is the approved one")
    approved_version: int | None = Field(description="the version that goes out, if any was approved")
    author: str = Field(description="openai or offline (a writer's draft), or person")
    model: str | None = Field(description="the model that drafted it, for AI drafts")


class StepOut(BaseModel):
    step: int = Field(description="the step's number, from 1")
    key: str = Field(description="the step's stable key: name it in PATCH steps to move the step with its message")
    name: str | None
    channel: Channel
    delay_days: int
    condition: Literal["always", "no_reply"]
    message: MessageOut | None = Field(default=None, description="the step's message (left out of lists)")


class SettingsOut(BaseModel):
    company_stop: Literal["off", "stop", "pause"]
    daily_new_leads: int | None
    invite_without_note: bool
    sender_failover_hours: int = Field(
        default=24,
        description="how long a due step waits on a paused or unavailable sender before it moves to another"
        " active sender of the sequence for its channel, in a new email thread (0: at once)",
    )


class SequenceProblem(BaseModel):
    """Something that keeps the sequence's leads from going on, with what to look at."""

    code: Literal["sender_paused", "sender_unavailable", "send_outcome_unknown"] = Field(
        description="sender_paused: one of its senders is paused (by a person, or for a failure such as a"
        " refused login); sender_unavailable: one is otherwise not active; send_outcome_unknown: sends that"
        " may or may not have gone out (never resent)"
    )
    detail: str
    sender_id: UUID | None = Field(default=None, description="the sender, for the sender codes")
    sender_name: str | None = None
    reason: str | None = Field(default=None, description="why the sender is paused (or its status)")
    leads_waiting: int | None = Field(
        default=None,
        description="leads (not paused) whose next step waits on this sender; they move to another active"
        " sender of the sequence once the step has been due for sender_failover_hours",
    )
    sends: int | None = Field(default=None, description="for send_outcome_unknown: how many sends")
    steps: list[int] = Field(default_factory=list, description="the steps concerned")


class SequenceFields(BaseModel):
    id: UUID
    run_id: UUID
    name: str
    status: SequenceStatus
    strategy_profile_id: UUID | None
    source_group_ids: list[UUID]
    steps: list[StepOut]
    settings: SettingsOut
    senders: dict[Literal["email", "linkedin"], list[UUID]] = Field(
        default_factory=dict, description="the accounts each channel sends from (left out of lists)"
    )


class SequenceOut(SequenceFields):
    launched_at: Instant | None
    version: int
    problems: list[SequenceProblem] = Field(
        default_factory=list, description="what keeps its leads from going on (on GET; as on the dashboard)"
    )


class SequenceItem(SequenceFields, Listed):
    pass


class LaunchOut(SequenceOut):
    enrolled: int = Field(description="leads enrolled by this launch (0 when it was launched already)")


class DashboardStep(BaseModel):
    step: int = Field(description="the step's number, from 1")
    name: str | None
    channel: Channel
    leads_at_step: int = Field(description="active (open, not paused) leads whose next step is this one")
    scheduled: int = Field(description="leads for whom this step is scheduled and not yet done (paused ones too)")
    sent: int
    accepted: int = Field(description="LinkedIn invites accepted")
    replied: int = Field(description="leads whose first reply came after this step was their last one sent")
    bounced: int
    failed: int = Field(
        description="failed for good (a retryable failure is scheduled again instead), plus the steps"
        " waiting on a sender that is paused or otherwise not active (see problems)"
    )
    skipped: int
    outcome_unknown: int = Field(description="sends whose outcome is unknown; never resent")
    reply_rate: float = Field(ge=0, le=1, description="replied ÷ sent; 0 when nothing was sent")


class DashboardTotals(BaseModel):
    enrolled: int
    active: int = Field(description="open and not paused")
    replied: int = Field(description="leads who replied, once each")
    completed: int
    stopped: int
    paused: int


class DashboardOut(BaseModel):
    status: SequenceStatus
    steps: list[DashboardStep]
    totals: DashboardTotals
    problems: list[SequenceProblem] = Field(description="what keeps its leads from going on")


class SequenceLead(BaseModel):
    lead_id: UUID
    enrollment_id: UUID = Field(description="for per-lead control: POST /v1/enrollments/{id}/pause, …")
    name: str | None
    company: str | None
    status: LeadStatus
    next_step: int | None = Field(description="the next step to go out; null once stopped or completed")
    next_send_at: Instant | None = Field(description="when the next step is scheduled, if it is")
    last_event_at: Instant


_STATE_ERRORS = responses(409)
_LAUNCH_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "Not ready: the problem's `findings` member lists the blocking findings (code launch_blocked)",
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
}


@router.post(
    "",
    status_code=201,
    response_model=SequenceOut,
    summary="Create a draft sequence (409 run_archived when its run is archived)",
    responses=_STATE_ERRORS,
)
def post_sequence(sv: ServicesDep, caller: CallerDep, body: CreateSequence) -> dict[str, Any]:
    return create_sequence(sv, caller.workspace_id, body, caller.actor).as_dict()


@router.get("", response_model=Page[SequenceItem], summary="List sequences, oldest first")
def list_sequences(
    sv: ServicesDep,
    caller: CallerDep,
    page: PagingDep,
    run_id: Annotated[UUID | None, Query()] = None,
    status: Annotated[SequenceStatus | None, Query()] = None,
) -> dict[str, Any]:
    found = catalog_page(sv, caller.workspace_id, "sequence", page, status=status, parent_id=run_id)
    for item in found["items"]:  # the catalog keeps steps as stored; the API numbers them from 1
        item["steps"] = [{"step": n, **s} for n, s in enumerate(item["steps"], start=1)]
    return found


@router.get("/{sequence_id}", response_model=SequenceOut, summary="A sequence")
def get_sequence(sv: ServicesDep, caller: CallerDep, sequence_id: SequenceId) -> dict[str, Any]:
    sequence = sv.events.get(sequence_id, Sequence, caller.workspace_id)
    with sv.db.pool.connection() as conn:
        found = sequence_problems(conn, sequence_id, _sender_ids(sequence))
    return {**sequence.as_dict(), "problems": found}


@router.get(
    "/{sequence_id}/dashboard",
    response_model=DashboardOut,
    summary="Per-step and total counts of the sequence's leads (from the read models, moments behind)",
)
def get_dashboard(sv: ServicesDep, caller: CallerDep, sequence_id: SequenceId) -> dict[str, Any]:
    return _dashboard(sv, caller, sequence_id)


@router.get(
    "/{sequence_id}/leads",
    response_model=Page[SequenceLead],
    summary="Drill-down: the sequence's leads in enrollment order, by next step and status",
)
def get_sequence_leads(
    sv: ServicesDep,
    caller: CallerDep,
    sequence_id: SequenceId,
    page: PagingDep,
    step: Annotated[int | None, Query(ge=1, le=50, description="only leads whose next step is this one")] = None,
    status: Annotated[LeadStatus | None, Query(description="only leads in this status")] = None,
) -> dict[str, Any]:
    return _leads(sv, caller, sequence_id, page, step, status)


@router.patch(
    "/{sequence_id}",
    response_model=SequenceOut,
    summary="Change name, settings and source groups; steps only while draft",
    responses=_STATE_ERRORS,
)
def patch_sequence(sv: ServicesDep, caller: CallerDep, sequence_id: SequenceId, body: ChangeSequence) -> dict[str, Any]:
    return change_sequence(sv, caller.workspace_id, sequence_id, body, caller.actor).as_dict()


@router.post(
    "/{sequence_id}/launch",
    response_model=LaunchOut,
    summary="Launch: pin the approved messages, activate, and enroll the leads of its enriched source groups"
    " (refused with 409 while a blocking readiness finding remains; repeating is a no-op)",
    responses=_LAUNCH_ERRORS,
)
def post_launch(sv: ServicesDep, caller: CallerDep, sequence_id: SequenceId) -> dict[str, Any]:
    sequence, enrolled = launch_sequence(sv, caller.workspace_id, sequence_id, caller.actor)
    return {**sequence.as_dict(), "enrolled": enrolled}


class PlannedSend(BaseModel):
    lead_id: UUID
    step: int
    channel: Channel
    sender_id: UUID | None
    send_at: datetime = Field(description="planned; the actual time may differ by the jitter (±20% of the gap)")


class ResumePreview(BaseModel):
    items: list[PlannedSend]


@router.get(
    "/{sequence_id}/resume-preview",
    response_model=ResumePreview,
    summary="What would go out after a resume, when and through which sender: from the next window, within limits",
)
def get_resume_preview(sv: ServicesDep, caller: CallerDep, sequence_id: SequenceId) -> dict[str, Any]:
    return {"items": resume_preview(sv, caller.workspace_id, sequence_id)}


@router.post(
    "/{sequence_id}/pause",
    response_model=SequenceOut,
    summary="Pause (repeating is a no-op; a draft cannot be paused)",
    responses=_STATE_ERRORS,
)
def post_pause(sv: ServicesDep, caller: CallerDep, sequence_id: SequenceId) -> dict[str, Any]:
    return _set_state(sv, caller, sequence_id, "pause")


@router.post(
    "/{sequence_id}/resume",
    response_model=SequenceOut,
    summary="Resume (repeating is a no-op)",
    responses=_STATE_ERRORS,
)
def post_resume(sv: ServicesDep, caller: CallerDep, sequence_id: SequenceId) -> dict[str, Any]:
    return _set_state(sv, caller, sequence_id, "resume")


@router.post(
    "/{sequence_id}/archive",
    response_model=SequenceOut,
    summary="Archive (repeating is a no-op)",
    responses=_STATE_ERRORS,
)
def post_archive(sv: ServicesDep, caller: CallerDep, sequence_id: SequenceId) -> dict[str, Any]:
    return _set_state(sv, caller, sequence_id, "archive")


def _set_state(sv: Services, caller: Caller, sequence_id: UUID, action: str) -> dict[str, Any]:
    return set_sequence_state(sv, caller.workspace_id, sequence_id, action, caller.actor).as_dict()


def _dashboard(sv: Services, caller: Caller, sequence_id: UUID) -> dict[str, Any]:
    sequence = sv.events.get(sequence_id, Sequence, caller.workspace_id)  # its senders; another workspace's: 404
    with sv.db.pool.connection() as conn:
        board = sequence_dashboard(conn, caller.workspace_id, sequence_id, _sender_ids(sequence))
        if board is not None:
            return board
        # Not in the catalog yet: its row has not arrived.
        return dashboard_for(conn, sequence_id, sequence.status, sequence.steps, _sender_ids(sequence))


def _sender_ids(sequence: Sequence) -> list[UUID]:
    return [i for ids in sequence.senders.values() for i in ids]


def _leads(
    sv: Services, caller: Caller, sequence_id: UUID, page: Paging, step: int | None, status: str | None
) -> dict[str, Any]:
    with sv.db.pool.connection() as conn:
        found = sequence_leads(
            conn, caller.workspace_id, sequence_id, step=step, status=status, limit=page.limit, cursor=page.cursor
        )
    if found is None:
        sv.events.get(sequence_id, Sequence, caller.workspace_id)  # another workspace's: 404
        return {"items": [], "next_cursor": None}  # the read models have not caught up with it yet
    return found
