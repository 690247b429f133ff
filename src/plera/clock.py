"""The one source of time. Nothing else reads the wall clock for a decision.

The simulated clock lives in the database, so `plera clock advance` in one process
moves every running process. It stands still between moves. Which clock a database runs on
is kept there too (`choose_clock_mode`), so a process started without PLERA_CLOCK follows it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Literal, Protocol

from psycopg_pool import ConnectionPool

ClockMode = Literal["system", "simulated"]
CLOCK_MODE_KEY = "clock"  # in plera_meta: the mode `plera up` was started with


class ClockModeConflict(ValueError):
    """PLERA_CLOCK asks for one clock while the database is kept on the other."""


def choose_clock_mode(asked: ClockMode | None, kept: str | None, *, keeper: bool) -> ClockMode:
    """The clock a process runs on: `asked` is its PLERA_CLOCK (None when unset), `kept` the mode the
    database keeps, `keeper` whether the process is the service (`plera up`), whose choice is kept.

    Every process of one database must stamp events on the same clock: one on the wall clock beside a
    simulated service would record its events days apart from the service's. So an unset PLERA_CLOCK
    follows the database, the service's explicit choice replaces what is kept, and any other process
    asking for the other clock is refused rather than silently overruled.
    """
    if asked is None:
        return "simulated" if kept == "simulated" else "system"
    if kept is not None and kept != asked and not keeper:
        raise ClockModeConflict(
            f"PLERA_CLOCK={asked}, but this database runs on the {kept} clock, as `plera up` was started:"
            f" unset PLERA_CLOCK to follow it (or restart `plera up` with PLERA_CLOCK={asked} to change it)"
        )
    return asked


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(tz=UTC)


class FixedClock:
    """An in-memory clock for pure tests: it moves only when told."""

    def __init__(self, at: datetime) -> None:
        self._at = at

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> datetime:
        self._at = at
        return self._at

    def advance(self, by: timedelta) -> datetime:
        self._at += by
        return self._at


class SimulatedClock:
    """A clock kept in the table plera_clock, shared by every process on the database."""

    def __init__(self, pool: ConnectionPool, start: datetime | None = None) -> None:
        self._pool = pool
        with pool.connection() as conn:
            conn.execute(
                "INSERT INTO plera_clock (id, now) VALUES (1, %s) ON CONFLICT (id) DO NOTHING",
                (start or datetime.now(tz=UTC),),
            )

    def now(self) -> datetime:
        with self._pool.connection() as conn:
            row = conn.execute("SELECT now FROM plera_clock WHERE id = 1").fetchone()
        assert row is not None
        return row[0].astimezone(UTC)

    def set(self, at: datetime) -> datetime:
        with self._pool.connection() as conn:
            conn.execute("UPDATE plera_clock SET now = %s WHERE id = 1", (at,))
        return at.astimezone(UTC)

    def advance(self, by: timedelta) -> datetime:
        with self._pool.connection() as conn:
            row = conn.execute("UPDATE plera_clock SET now = now + %s WHERE id = 1 RETURNING now", (by,)).fetchone()
        assert row is not None
        return row[0].astimezone(UTC)


_DURATION = re.compile(r"^(\d+)([dhms])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}


def parse_duration(text: str) -> timedelta:
    """Reads durations like 3d, 4h, 90m or 30s: the CLI's `plera clock advance` and the API's `{"by"}`."""
    match = _DURATION.match(text.strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r} (use a number and d, h, m or s, like 3d or 90m)")
    try:
        return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    except OverflowError:
        raise ValueError(f"the duration {text!r} is too large") from None


def parse_instant(text: str) -> datetime:
    """Reads an ISO 8601 instant; one without a zone is taken as UTC."""
    at = datetime.fromisoformat(text)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
