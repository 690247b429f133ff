"""The Messaging Lab: drafts, messages and approvals, per-lead overrides, senders, previews, readiness, test sends."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from plera.api.auth import CallerDep
from plera.api.deps import LeadId, SequenceId, ServicesDep
from plera.api.problems import responses
from plera.api.routes.sequences import SequenceOut
from plera.commands.messaging import (
    ChooseSenders,
    MessageIn,
    approve_message,
    choose_senders,
    draft_messages,
    edit_message,
    previews,
    readiness,
)
from plera.commands.test_send import TestSend, test_send

router = APIRouter(prefix="/sequences", tags=["messaging lab"], responses=responses(401, 404, 422))

Step = Annotated[int, Path(ge=1, le=50, description="the step's number, from 1")]


class PreviewItem(BaseModel):
    lead_id: UUID
    lead_name: str | None = Field(description="first and last name, when known")
    company: str | None
    step: int
    channel: Literal["email", "linkedin_invite", "linkedin_message"]
    sender_id: UUID | None = Field(description="the sender the lead keeps on this channel")
    subject: str | None = Field(description="email only; a later step without one shows its thread's 'Re: …'")
    body: str
    variables: dict[str, str | None] = Field(description="the variables the templates use, as resolved (null: missing)")
    fallbacks_used: list[str] = Field(description="variables whose `default` fallback this lead needed")
    override: bool = Field(description="the lead's own message, not the step's")
    approved: bool
    error: str | None = Field(description="why the message does not render (a readiness finding too)")
    note: str | None = Field(default=None, description="e.g. that this invite goes without a note")
    skipped: bool = Field(description="the lead skips this step (no address on its channel): nothing is rendered")
    skip_reason: str | None = Field(examples=["no email address", "no LinkedIn URL"])


class Previews(BaseModel):
    items: list[PreviewItem]


class FindingOut(BaseModel):
    code: str
    severity: Literal["blocking", "warning"]
    detail: str
    steps: list[int]
    lead_count: int | None
    sender_id: UUID | None = Field(default=None, description="sender_unavailable: the sender that cannot send")


class ReadinessOut(BaseModel):
    ready: bool = Field(description="no blocking finding: launch would succeed")
    findings: list[FindingOut]


class TestSendOut(BaseModel):
    message_id: str
    to: str
    subject: str | None
    channel: str


@router.post(
    "/{sequence_id}/drafts",
    response_model=SequenceOut,
    summary="Draft every step: the AI writer when PLERA_OPENAI_API_KEY is set, else the offline writer."
    " Drafts replace the working messages and are never approved by themselves.",
    responses=responses(409, 502, 503),
)
def post_drafts(sv: ServicesDep, caller: CallerDep, sequence_id: SequenceId) -> dict[str, Any]:
    return draft_messages(sv, caller.workspace_id, sequence_id, caller.actor).as_dict()


@router.put(
    "/{sequence_id}/steps/{step}/message",
    response_model=SequenceOut,
    summary="Write the step's message (jinja2 template); withdraws its approval",
    responses=responses(409),
)
def put_message(
    sv: ServicesDep, caller: CallerDep, sequence_id: SequenceId, step: Step, body: MessageIn
) -> dict[str, Any]:
    return edit_message(sv, caller.workspace_id, sequence_id, step, body, caller.actor, lead_id=None).as_dict()


@router.post(
    "/{sequence_id}/steps/{step}/approve",
    response_model=SequenceOut,
    summary="Approve the step's working message (repeating is a no-op)",
    responses=responses(409),
)
def post_approve(sv: ServicesDep, caller: CallerDep, sequence_id: SequenceId, step: Step) -> dict[str, Any]:
    return approve_message(sv, caller.workspace_id, sequence_id, step, caller.actor, lead_id=None).as_dict()


@router.put(
    "/{sequence_id}/leads/{lead_id}/steps/{step}/message",
    response_model=SequenceOut,
    summary="A lead's own message for a step, in place of the step's; approved on its own",
    responses=responses(409),
)
def put_lead_message(
    sv: ServicesDep, caller: CallerDep, sequence_id: SequenceId, lead_id: LeadId, step: Step, body: MessageIn
) -> dict[str, Any]:
    return edit_message(sv, caller.workspace_id, sequence_id, step, body, caller.actor, lead_id=lead_id).as_dict()


@router.post(
    "/{sequence_id}/leads/{lead_id}/steps/{step}/approve",
    response_model=SequenceOut,
    summary="Approve a lead's own message for a step",
    responses=responses(409),
)
def post_lead_approve(
    sv: ServicesDep, caller: CallerDep, sequence_id: SequenceId, lead_id: LeadId, step: Step
) -> dict[str, Any]:
    return approve_message(sv, caller.workspace_id, sequence_id, step, caller.actor, lead_id=lead_id).as_dict()


@router.put(
    "/{sequence_id}/senders",
    response_model=SequenceOut,
    summary="Choose the sender accounts per channel; each lead keeps one per channel, spread by daily limit",
    responses=responses(409),
)
def put_senders(sv: ServicesDep, caller: CallerDep, sequence_id: SequenceId, body: ChooseSenders) -> dict[str, Any]:
    return choose_senders(sv, caller.workspace_id, sequence_id, body, caller.actor).as_dict()


@router.get(
    "/{sequence_id}/previews",
    response_model=Previews,
    summary="Every step rendered per lead: the lead asked for, or the first `limit` eligible leads",
)
def get_previews(
    sv: ServicesDep,
    caller: CallerDep,
    sequence_id: SequenceId,
    lead_id: Annotated[UUID | None, Query(description="one lead of the sequence")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="leads to preview")] = 50,
) -> dict[str, Any]:
    return {"items": previews(sv, caller.workspace_id, sequence_id, lead_id=lead_id, limit=limit)}


@router.get(
    "/{sequence_id}/readiness",
    response_model=ReadinessOut,
    summary="What blocks the launch, and what deserves a look: the contract's codes, blocking ones first",
)
def get_readiness(sv: ServicesDep, caller: CallerDep, sequence_id: SequenceId) -> dict[str, Any]:
    return readiness(sv, caller.workspace_id, sequence_id)


@router.post(
    "/{sequence_id}/test-send",
    response_model=TestSendOut,
    summary="Send one step, rendered for a lead, to a test address now (outside the limits, from the lead's"
    " email sender; LinkedIn steps arrive as an email showing the text)",
    responses=responses(409, 502),
)
def post_test_send(sv: ServicesDep, caller: CallerDep, sequence_id: SequenceId, body: TestSend) -> dict[str, Any]:
    return test_send(sv, caller.workspace_id, sequence_id, body, caller.actor)
