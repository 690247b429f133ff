"""The demo's week: the clock it moves, where its week starts, and how it shows an instant."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from plera.clock import FixedClock, SimulatedClock
from plera.runtime import Services

WORKSPACE_ZONE = ZoneInfo("Europe/Berlin")
# The demo's week when it keeps its own clock: a Monday morning before the window opens, in the past (so
# its events never sit ahead of those other processes stamp on the system clock) and with no holiday of
# the workspace in the days it runs.
DEMO_MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=WORKSPACE_ZONE)
SIMULATED_DAYS = 10


class MovableClock(Protocol):
    def now(self) -> datetime: ...

    def set(self, at: datetime) -> datetime: ...

    def advance(self, by: timedelta) -> datetime: ...


def demo_services(sv: Services, public_url: str) -> tuple[Services, MovableClock]:
    """The services the demo runs on, with a clock it moves and its own API as the public URL (so the
    links in the emails it sends lead to the API it serves).

    A simulated clock is shared through the database with other processes, so it only moves forward:
    to the next Monday 08:00 in the demo's zone. Otherwise (the system clock) the demo runs on a copy
    of the services with a clock of its own, from DEMO_MONDAY: a fixed week without holidays in the
    past, so the output is the same each time."""
    sv = replace(sv, settings=sv.settings.model_copy(update={"public_url": public_url}))
    if isinstance(sv.clock, SimulatedClock):
        sv.clock.set(next_monday_morning(sv.clock.now()))
        return sv, sv.clock
    clock = FixedClock(DEMO_MONDAY.astimezone(UTC))
    return replace(sv, clock=clock), clock


def next_monday_morning(after: datetime) -> datetime:
    local = after.astimezone(WORKSPACE_ZONE)
    day = local.date() + timedelta(days=(7 - local.weekday()) % 7)
    start = datetime.combine(day, DEMO_MONDAY.timetz())
    return start if start >= local else start + timedelta(days=7)


def whole_second(at: datetime) -> datetime:
    """The next whole second (a worker ticks each second): times read cleanly in the history."""
    return at if at.microsecond == 0 else at.replace(microsecond=0) + timedelta(seconds=1)


def local(at: datetime, zone: str | ZoneInfo) -> str:
    """An instant as the recipient reads it: weekday, date, wall time and the zone's abbreviation."""
    return at.astimezone(zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)).strftime("%a %d %b %H:%M %Z")
