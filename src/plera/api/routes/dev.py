"""The simulated clock over HTTP (only with a simulated clock; otherwise these paths do not exist: 404)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from plera.api.auth import CallerDep
from plera.api.deps import ServicesDep
from plera.api.problems import ApiError, responses
from plera.clock import SimulatedClock, parse_duration
from plera.runtime import Services

router = APIRouter(prefix="/dev/clock", tags=["development"], responses=responses(401, 404, 422))

LONGEST_MOVE = timedelta(days=400)  # one move at a time; far enough for any scenario, short of the year 9999


class ClockOut(BaseModel):
    now: datetime


class SetClock(BaseModel):
    now: AwareDatetime = Field(description="the instant, ISO 8601 with an offset")

    @field_validator("now", mode="before")
    @classmethod
    def _text(cls, now: object) -> object:
        # The schema says a string; pydantic would also read a number as unix seconds.
        if not isinstance(now, str):
            raise ValueError("Input should be an ISO 8601 date and time with an offset, as a string")
        return now


class AdvanceClock(BaseModel):
    seconds: float | None = Field(
        default=None, gt=0, le=LONGEST_MOVE.total_seconds(), description="how far to move the clock forward"
    )
    by: str | None = Field(
        default=None,
        max_length=16,
        json_schema_extra={"pattern": r"^\s*\d+[dhms]\s*$"},  # documented; the validator says what is wrong in words
        examples=["1d", "4h", "90m", "30s"],
        description="how far to move the clock forward, as `plera clock advance` reads it; instead of seconds",
    )

    @field_validator("by")
    @classmethod
    def _duration(cls, by: str | None) -> str | None:
        if by is not None:
            moved = parse_duration(by)  # its ValueError names the text and the format: a 422
            if not timedelta(0) < moved <= LONGEST_MOVE:
                raise ValueError(f"the duration {by!r} must be more than 0 and at most {LONGEST_MOVE.days}d")
        return by

    @model_validator(mode="after")
    def _one_of(self) -> AdvanceClock:
        if (self.seconds is None) == (self.by is None):
            raise ValueError('give either "seconds" or "by", not both or neither')
        return self

    def duration(self) -> timedelta:
        return parse_duration(self.by) if self.by is not None else timedelta(seconds=self.seconds or 0)


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
    return {"now": _clock(sv).advance(body.duration())}
