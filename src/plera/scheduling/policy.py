"""Pure timing rules: a recipient's sending window and sending days, when a step becomes eligible, when it may
go out, and how far apart one sender's sends are. The recipient's zone is inferred in `zones` (re-exported here).

Nothing here reads a clock or does I/O beyond the packages' own data: every function takes the instants it
reasons about. Instants passed in must be aware (ValueError otherwise); instants returned are in UTC.

Choices (ARCHITECTURE.md, "Scheduling rules"):
- Days are the recipient's. A sending day is a weekday of `sending_days` that is not a holiday of any of the
  workspace's `holiday_countries`, judged on the recipient's local calendar date: a lead in Sydney gets nothing
  on the Sydney date of a US holiday of a US workspace. Daily limits count in the workspace's zone instead
  (`workspace_day`).
- The window is [window_start, window_end) in the recipient's zone, so 09:00 stays 09:00 local across a DST
  change. A wall time skipped by a spring-forward resolves forward to the first instant after the gap (02:30 on
  the US spring-forward day is 03:00 PDT); a wall time that occurs twice resolves to the later one (fold=1).
  A window that collapses to nothing that way is no window that day.
- Holiday countries are codes of the `holidays` package, "US", or "US-CA" with a subdivision; its observed days
  count (Friday 3 July 2026 for Independence Day). A code it does not know has no holidays rather than stopping
  every send of the workspace: check codes with `is_holiday_country` where they are entered.
- Step 1 is eligible the moment the lead enters. A later step is eligible at the window start of the
  recipient's day `delay_days` after the day the previous step went out or was skipped, or of the first sending
  day after it. With delay 0 that is the same day's window start, usually already past: the step may then go at
  once while the window is open, else at the next opening.
- Spreading: one sender's sends are window length ÷ daily_limit apart, the nominal length of the workspace's
  window (whatever DST does to one day), jittered by ±20%.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from plera.scheduling.zones import RecipientZone, ZoneSource, preload, recipient_zone, valid_zone, zone_info

__all__ = [
    "HORIZON_DAYS",
    "JITTER",
    "WEEKDAYS",
    "RecipientZone",
    "SendingRules",
    "ZoneSource",
    "first_step_eligible",
    "is_holiday_country",
    "is_open",
    "is_sending_day",
    "jittered",
    "later_step_eligible",
    "local_day",
    "min_gap",
    "next_opening",
    "preload",
    "recipient_zone",
    "send_time",
    "valid_zone",
    "window_on",
    "workspace_day",
    "zone_info",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
JITTER = 0.2
HORIZON_DAYS = 366
"""How far ahead a window is looked for: a year with no sending day in it means the rules allow none."""


@dataclass(frozen=True)
class SendingRules:
    """A workspace's sending window (local wall times), sending days (Monday is 0) and holiday countries."""

    timezone: str
    window_start: time = time(9)
    window_end: time = time(17)
    sending_days: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    holiday_countries: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        zone_info(self.timezone)
        if self.window_start.tzinfo is not None or self.window_end.tzinfo is not None:
            raise ValueError("window_start and window_end are wall times, without a zone")
        if not self.window_start < self.window_end:
            raise ValueError("window_start must be before window_end")
        days = frozenset(self.sending_days)
        if not days <= frozenset(range(7)):
            raise ValueError(f"sending days are numbers from 0 (Monday) to 6, not {sorted(days)}")
        object.__setattr__(self, "sending_days", days)
        object.__setattr__(self, "holiday_countries", tuple(c.strip().upper() for c in self.holiday_countries))

    @classmethod
    def from_workspace(
        cls,
        timezone: str,
        window_start: str = "09:00",
        window_end: str = "17:00",
        sending_days: Iterable[str] = WEEKDAYS[:5],
        holiday_countries: Iterable[str] = (),
    ) -> SendingRules:
        """The rules from a workspace's settings as the API spells them: "09:00", ["mon", …], ["US", …]."""
        return cls(
            timezone=timezone,
            window_start=_wall_time(window_start),
            window_end=_wall_time(window_end),
            sending_days=frozenset(_weekday(name) for name in sending_days),
            holiday_countries=tuple(holiday_countries),
        )


# ---- days and windows


def is_sending_day(rules: SendingRules, day: date) -> bool:
    """A weekday the workspace sends on that is no holiday of its countries (`day` is the recipient's date)."""
    if day.weekday() not in rules.sending_days:
        return False
    return not any(day in _holidays_in(code, day.year) for code in rules.holiday_countries)


def is_holiday_country(code: str) -> bool:
    """Whether the `holidays` package knows the country code, "US", or "US-CA" with a subdivision."""
    return _holiday_calendar(code.strip().upper()) is not None


def window_on(rules: SendingRules, zone: str, day: date) -> tuple[datetime, datetime]:
    """The UTC instants the window opens and closes on that local day in `zone`, sending day or not."""
    return _window(rules, zone, day)


def local_day(zone: str, at: datetime) -> date:
    """The calendar date in `zone` at that instant."""
    return _utc(at).astimezone(zone_info(zone)).date()


def workspace_day(rules: SendingRules, at: datetime) -> date:
    """The workspace's date at that instant: the day a sender's daily limit counts in."""
    return local_day(rules.timezone, at)


def is_open(rules: SendingRules, zone: str, at: datetime) -> bool:
    """Whether a message to a recipient in `zone` may go out at that instant."""
    moment = _utc(at)
    day = moment.astimezone(zone_info(zone)).date()
    if not is_sending_day(rules, day):
        return False
    start, end = _window(rules, zone, day)
    return start <= moment < end


def next_opening(rules: SendingRules, zone: str, at: datetime) -> datetime:
    """`at` when the window is open then, else the next window start on a sending day. Raises ValueError
    when there is none within HORIZON_DAYS (the rules have no sending day)."""
    moment = _utc(at)
    day = moment.astimezone(zone_info(zone)).date()
    opening_day, (start, end) = _first_window(rules, zone, day)
    if opening_day == day and moment >= end:
        _, (start, end) = _first_window(rules, zone, day + timedelta(days=1))
    return max(moment, start)


# ---- steps


def first_step_eligible(rules: SendingRules, zone: str, entered_at: datetime) -> datetime:
    """Step 1 is eligible the moment the lead enters; `send_time` moves it into a window."""
    return _utc(entered_at, "entered_at")


def later_step_eligible(rules: SendingRules, zone: str, previous_at: datetime, delay_days: int) -> datetime:
    """The window start on the recipient's day `delay_days` after the day the previous step went out or was
    skipped, or on the first sending day after it."""
    if delay_days < 0:
        raise ValueError(f"delay_days cannot be negative, not {delay_days}")
    day = local_day(zone, _utc(previous_at, "previous_at")) + timedelta(days=delay_days)
    _, (start, _end) = _first_window(rules, zone, day)
    return start


def send_time(rules: SendingRules, zone: str, eligible_at: datetime, now: datetime) -> datetime:
    """When a step eligible at `eligible_at` may go out, seen at `now`: the later of the two, or the next
    opening after it."""
    return next_opening(rules, zone, max(_utc(eligible_at, "eligible_at"), _utc(now, "now")))


# ---- spreading


def min_gap(rules: SendingRules, daily_limit: int) -> timedelta:
    """How far apart one sender's sends are: the window's length shared by the day's sends."""
    if daily_limit < 1:
        raise ValueError(f"daily_limit must be at least 1, not {daily_limit}")
    length = datetime.combine(date.min, rules.window_end) - datetime.combine(date.min, rules.window_start)
    return length / daily_limit


def jittered(gap: timedelta, unit: float) -> timedelta:
    """The gap moved by up to ±20%: `unit` in [0, 1) maps linearly onto [0.8, 1.2), so a caller that derives
    it from a hash gets the same gap on a rerun."""
    if not 0.0 <= unit < 1.0:
        raise ValueError(f"unit must be in [0, 1), not {unit}")
    return gap * (1 - JITTER + 2 * JITTER * unit)


# ---- helpers


def _utc(at: datetime, name: str = "at") -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, not {at!r}")
    return at.astimezone(UTC)


def _wall_time(text: str) -> time:
    hours, sep, minutes = text.strip().partition(":")
    if not (sep and len(hours) == 2 and len(minutes) == 2 and hours.isdigit() and minutes.isdigit()):
        raise ValueError(f"a window time is like 09:00, not {text!r}")
    return time(int(hours), int(minutes))


def _weekday(name: str) -> int:
    try:
        return WEEKDAYS.index(name.strip().lower())
    except ValueError:
        raise ValueError(f"sending days are among {', '.join(WEEKDAYS)}, not {name!r}") from None


def _first_window(rules: SendingRules, zone: str, day: date) -> tuple[date, tuple[datetime, datetime]]:
    """The first sending day from `day` on whose window is not empty, with that window."""
    if rules.sending_days:
        for offset in range(HORIZON_DAYS + 1):
            candidate = day + timedelta(days=offset)
            if is_sending_day(rules, candidate):
                start, end = _window(rules, zone, candidate)
                if start < end:
                    return candidate, (start, end)
    raise ValueError(f"no sending day within {HORIZON_DAYS} days of {day.isoformat()}")


@lru_cache(maxsize=65_536)  # recipients share zones and days, and the worker asks again at every tick
def _window(rules: SendingRules, zone: str, day: date) -> tuple[datetime, datetime]:
    tz = zone_info(zone)
    return _instant(tz, datetime.combine(day, rules.window_start)), _instant(
        tz, datetime.combine(day, rules.window_end)
    )


def _instant(tz: ZoneInfo, wall: datetime) -> datetime:
    """The UTC instant of a local wall time; a skipped one resolves forward, a repeated one to the later."""
    earlier_offset = wall.replace(tzinfo=tz).utcoffset()  # fold=0: the offset in force before a transition
    later_offset = wall.replace(tzinfo=tz, fold=1).utcoffset()
    assert earlier_offset is not None and later_offset is not None
    if earlier_offset == later_offset:
        return (wall - earlier_offset).replace(tzinfo=UTC)
    if earlier_offset > later_offset:  # the clocks went back: the wall time occurs twice, take the later
        return (wall - later_offset).replace(tzinfo=UTC)
    # The clocks went forward over it: take the first instant after the gap, where the clocks jumped.
    return _transition(tz, (wall - later_offset).replace(tzinfo=UTC), (wall - earlier_offset).replace(tzinfo=UTC))


def _transition(tz: ZoneInfo, before: datetime, after: datetime) -> datetime:
    """The instant in (before, after] at which the offset changes to after's: bisected to the second."""
    offset = after.astimezone(tz).utcoffset()
    second = timedelta(seconds=1)
    while after - before > second:
        middle = before + (after - before) // second // 2 * second
        if middle.astimezone(tz).utcoffset() == offset:
            after = middle
        else:
            before = middle
    return after.replace(microsecond=0)  # transitions fall on whole seconds


@lru_cache(maxsize=4096)
def _holidays_in(code: str, year: int) -> frozenset[date]:
    calendar = _holiday_calendar(code)
    if calendar is None:
        return frozenset()
    return frozenset(holidays.country_holidays(calendar[0], subdiv=calendar[1], years=year))


@lru_cache(maxsize=1024)
def _holiday_calendar(code: str) -> tuple[str, str | None] | None:
    country, _, subdivision = code.partition("-")
    try:
        holidays.country_holidays(country, subdiv=subdivision or None)
    except NotImplementedError:
        return None
    return country, subdivision or None
