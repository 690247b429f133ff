"""A lead's history, replayed from the event store itself, and its timeline, from the read models."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
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
from plera.commands.lead_views import lead_detail
from plera.commands.workspaces import Caller
from plera.projections.lead_timeline import lead_timeline
from plera.projections.leads import get_lead
from plera.runtime import Services
from plera.scheduling.zones import ZoneSource

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
    as_of: Instant | None = Field(
        description="the as_of asked for; without one, every event is shown and this is the last event's time"
    )
    events: list[HistoryEvent] = Field(description="in time order")
    state: list[EnrollmentOut] = Field(description="the lead's enrollments as they were at as_of (after every event)")


class LeadGroup(BaseModel):
    id: UUID
    name: str
    run_id: UUID
    added_at: Instant = Field(description="when the lead joined the group")


class LeadEnrollment(BaseModel):
    id: UUID = Field(description="the enrollment (for /enrollments/{id}/pause, /resume, /stop)")
    sequence_id: UUID
    sequence_name: str | None
    status: Literal["active", "paused", "stopped", "completed"]
    stop_reason: str | None
    next_step: int | None = Field(description="the step the lead waits for; null when stopped or completed")
    next_channel: Literal["email", "linkedin_invite", "linkedin_message"] | None
    next_send_at: Instant | None = Field(description="when it is planned to go out, when scheduled")
    enrolled_at: Instant
    last_event_at: Instant


class LeadSuppression(BaseModel):
    id: UUID
    kind: Literal["email", "domain", "linkedin_url"]
    value: str
    reason: str | None
    source: str = Field(examples=["manual", "unsubscribe", "hard_bounce", "complaint"])
    skip_reason: str = Field(examples=["unsubscribed", "bounced", "complained", "suppressed"])
    created_at: Instant


class LeadFields(BaseModel):
    """A lead as imported (blank fields are null), with its name."""

    id: UUID
    name: str | None = Field(description="first and last name, when known")
    first_name: str | None
    last_name: str | None
    email: str | None
    linkedin_url: str | None
    company: str | None
    title: str | None
    phone: str | None
    country: str | None = Field(description="ISO 3166-1 alpha-2")
    city: str | None
    timezone: str | None = Field(
        description="the zone the import gave, if any (`zone` on GET /leads/{id}: the one used)"
    )


class LeadOut(LeadFields):
    zone: str = Field(examples=["Asia/Tokyo"], description="the IANA zone the lead's messages are timed in")
    zone_source: ZoneSource = Field(
        description="where the zone came from: the lead's own zone (explicit), its city, its phone number,"
        " its country (one with a single zone), else the workspace's zone"
    )
    source_groups: list[LeadGroup] = Field(description="the groups the lead was imported into")
    enrollments: list[LeadEnrollment] = Field(description="oldest first")
    suppression: LeadSuppression | None = Field(
        description="the suppression list entry that keeps Plera from writing to the lead (its address, domain"
        " or LinkedIn URL), if any"
    )


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
    "/{lead_id}",
    response_model=LeadOut,
    summary="The lead: its fields, the zone its messages are timed in and why, its groups, enrollments and suppression",
)
def get_lead_detail(sv: ServicesDep, caller: CallerDep, lead_id: LeadId) -> dict[str, Any]:
    return lead_detail(sv, caller.workspace_id, lead_id)


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
        str | None,
        Query(
            min_length=1,
            max_length=64,
            description="ISO 8601; without a zone, UTC; default: every event, whatever the clock",
        ),
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
