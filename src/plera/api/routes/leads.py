"""A lead's history, replayed from the event store itself: what happened, and the state at a moment."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from plera.api.auth import CallerDep
from plera.api.deps import LeadId, ServicesDep
from plera.api.models import Instant
from plera.api.problems import responses
from plera.api.routes.enrollments import EnrollmentOut
from plera.clock import parse_instant
from plera.commands.history import lead_history

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


@router.get("/{lead_id}/history", response_model=HistoryOut, summary="The lead's events and enrollments as of a time")
def get_history(
    sv: ServicesDep,
    caller: CallerDep,
    lead_id: LeadId,
    as_of: Annotated[str | None, Query(description="ISO 8601; without a zone, UTC; default now")] = None,
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
