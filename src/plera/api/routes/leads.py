"""A lead's history, replayed from the event store itself, and its timeline, from the read models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from plera.aggregates.lead import Lead
from plera.api.auth import CallerDep
from plera.api.deps import LeadId, ServicesDep
from plera.api.models import Instant
from plera.api.problems import responses
from plera.api.routes.enrollments import EnrollmentOut
from plera.clock import parse_instant
from plera.commands.history import lead_history
from plera.commands.workspaces import Caller
from plera.projections.lead_timeline import lead_timeline
from plera.projections.leads import get_lead
from plera.runtime import Services

router = APIRouter(prefix="/leads", tags=["leads"], responses=responses(401, 404, 422))


class HistoryEvent(BaseModel):
    at: Instant
    type: str = Field(examples=["LeadEnrolled", "StepScheduled", "EnrollmentPaused"])
    aggregate_id: UUID
    version: int
    actor: str = Field(description="the API key's name, or worker / webhook")
    data: dict[str, Any]


class HistoryOut(BaseModel):
    lead_id: UUID
    as_of: Instant
    events: list[HistoryEvent] = Field(description="in time order")
    state: list[EnrollmentOut] = Field(description="the lead's enrollments as they were at as_of")


class TimelineEvent(BaseModel):
    at: Instant
    type: str = Field(examples=["LeadImported", "LeadEnrolled", "MessageSent", "ReplyDetected"])
    aggregate_id: UUID = Field(description="the lead, or one of its enrollments")
    version: int
    sequence_id: UUID | None = Field(description="for an enrollment's event, its sequence")
    sequence_name: str | None
    actor: str
    summary: str = Field(examples=["Step 2 (email) sent"], description="one line for people")
    data: dict[str, Any]


class TimelineOut(BaseModel):
    lead_id: UUID
    name: str | None = Field(description="first and last name, when known")
    company: str | None
    events: list[TimelineEvent] = Field(description="oldest first, every one (not paged)")


@router.get(
    "/{lead_id}/timeline",
    response_model=TimelineOut,
    summary="The lead's events and its enrollments', summarised (from the read models, moments behind)",
)
def get_timeline(sv: ServicesDep, caller: CallerDep, lead_id: LeadId) -> dict[str, Any]:
    return _timeline(sv, caller, lead_id)


@router.get("/{lead_id}/history", response_model=HistoryOut, summary="The lead's events and enrollments as of a time")
def get_history(
    sv: ServicesDep,
    caller: CallerDep,
    lead_id: LeadId,
    as_of: Annotated[
        str | None, Query(min_length=1, max_length=64, description="ISO 8601; without a zone, UTC; default now")
    ] = None,
) -> dict[str, Any]:
    return lead_history(sv, caller.workspace_id, lead_id, _instant(as_of))


def _instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return parse_instant(text)
    except (ValueError, OverflowError):
        msg = "Input should be an ISO 8601 date and time, like 2026-03-02T09:00:00Z"
        raise RequestValidationError([{"loc": ("query", "as_of"), "msg": msg, "type": "datetime_parsing"}]) from None


def _timeline(sv: Services, caller: Caller, lead_id: UUID) -> dict[str, Any]:
    with sv.db.pool.connection() as conn:
        lead = get_lead(conn, caller.workspace_id, lead_id)
        events = lead_timeline(conn, caller.workspace_id, lead_id) if lead is not None else []
    if lead is None:
        sv.events.get(lead_id, Lead, caller.workspace_id)  # another workspace's: 404
        return {"lead_id": lead_id, "name": None, "company": None, "events": []}  # not caught up yet
    return {"lead_id": lead_id, "name": lead["name"], "company": lead["company"], "events": events}
