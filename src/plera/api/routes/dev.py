"""The simulated clock over HTTP (only with PLERA_CLOCK=simulated; otherwise these paths do not exist: 404)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, Field

from plera.api.auth import CallerDep
from plera.api.deps import ServicesDep
from plera.api.problems import ApiError, responses
from plera.clock import SimulatedClock
from plera.runtime import Services

router = APIRouter(prefix="/dev/clock", tags=["development"], responses=responses(401, 404, 422))


class ClockOut(BaseModel):
    now: datetime


class SetClock(BaseModel):
    now: AwareDatetime = Field(description="the instant, ISO 8601 with an offset")


class AdvanceClock(BaseModel):
    seconds: float = Field(gt=0, le=400 * 86400, description="how far to move the clock forward")


def _clock(sv: Services) -> SimulatedClock:
    if not isinstance(sv.clock, SimulatedClock):
        raise ApiError(404, "not_found", "the clock is not simulated (PLERA_CLOCK=simulated)")
    return sv.clock


@router.get("", response_model=ClockOut, summary="The simulated clock's time")
def get_clock(sv: ServicesDep, caller: CallerDep) -> dict[str, Any]:
    return {"now": _clock(sv).now()}


@router.post("/set", response_model=ClockOut, summary="Set the simulated clock")
def set_clock(sv: ServicesDep, caller: CallerDep, body: SetClock) -> dict[str, Any]:
    return {"now": _clock(sv).set(body.now)}


@router.post("/advance", response_model=ClockOut, summary="Move the simulated clock forward")
def advance_clock(sv: ServicesDep, caller: CallerDep, body: AdvanceClock) -> dict[str, Any]:
    return {"now": _clock(sv).advance(timedelta(seconds=body.seconds))}
