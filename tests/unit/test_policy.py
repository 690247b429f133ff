"""The timing rules: windows in the recipient's zone, sending days and holidays, step eligibility, spreading."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from plera.scheduling.policy import (
    SendingRules,
    first_step_eligible,
    is_holiday_country,
    is_open,
    is_sending_day,
    jittered,
    later_step_eligible,
    local_day,
    min_gap,
    next_opening,
    send_time,
    window_on,
    workspace_day,
)

LA, BERLIN, KOLKATA, SYDNEY, NEW_YORK = (
    "America/Los_Angeles",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/New_York",
)
WEEKDAYS = SendingRules(timezone=BERLIN)
EVERY_DAY = SendingRules(timezone=BERLIN, sending_days=frozenset(range(7)))
US = SendingRules(timezone=NEW_YORK, holiday_countries=("US",))
DE = SendingRules(timezone=BERLIN, holiday_countries=("DE",))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(zone: str, year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone))


# ---- the window in the recipient's zone


@pytest.mark.parametrize(
    ("zone", "day", "opens", "closes"),
    [
        (LA, date(2026, 1, 14), utc(2026, 1, 14, 17), utc(2026, 1, 15, 1)),
        (LA, date(2026, 7, 15), utc(2026, 7, 15, 16), utc(2026, 7, 16, 0)),
        (BERLIN, date(2026, 1, 14), utc(2026, 1, 14, 8), utc(2026, 1, 14, 16)),
        (BERLIN, date(2026, 7, 15), utc(2026, 7, 15, 7), utc(2026, 7, 15, 15)),
        (KOLKATA, date(2026, 1, 14), utc(2026, 1, 14, 3, 30), utc(2026, 1, 14, 11, 30)),
        (KOLKATA, date(2026, 7, 15), utc(2026, 7, 15, 3, 30), utc(2026, 7, 15, 11, 30)),
        (SYDNEY, date(2026, 1, 14), utc(2026, 1, 13, 22), utc(2026, 1, 14, 6)),
        (SYDNEY, date(2026, 7, 15), utc(2026, 7, 14, 23), utc(2026, 7, 15, 7)),
    ],
)
def test_the_window_is_nine_to_five_on_the_recipients_clock(zone, day, opens, closes):
    assert window_on(WEEKDAYS, zone, day) == (opens, closes)


@pytest.mark.parametrize(
    ("zone", "friday", "friday_opens", "monday", "monday_opens"),
    [
        (LA, date(2026, 3, 6), utc(2026, 3, 6, 17), date(2026, 3, 9), utc(2026, 3, 9, 16)),  # US spring forward
        (NEW_YORK, date(2026, 3, 6), utc(2026, 3, 6, 14), date(2026, 3, 9), utc(2026, 3, 9, 13)),
        (BERLIN, date(2026, 3, 27), utc(2026, 3, 27, 8), date(2026, 3, 30), utc(2026, 3, 30, 7)),  # EU spring
        (LA, date(2026, 10, 30), utc(2026, 10, 30, 16), date(2026, 11, 2), utc(2026, 11, 2, 17)),  # US autumn
        (BERLIN, date(2026, 10, 23), utc(2026, 10, 23, 7), date(2026, 10, 26), utc(2026, 10, 26, 8)),  # EU autumn
        (SYDNEY, date(2026, 4, 3), utc(2026, 4, 2, 22), date(2026, 4, 6), utc(2026, 4, 5, 23)),  # Sydney autumn
        (SYDNEY, date(2026, 10, 2), utc(2026, 10, 1, 23), date(2026, 10, 5), utc(2026, 10, 4, 22)),  # Sydney spring
    ],
)
def test_nine_oclock_stays_nine_oclock_local_across_a_dst_weekend(zone, friday, friday_opens, monday, monday_opens):
    assert window_on(WEEKDAYS, zone, friday)[0] == friday_opens
    assert window_on(WEEKDAYS, zone, monday)[0] == monday_opens
    assert friday_opens.astimezone(ZoneInfo(zone)).time() == time(9)
    assert monday_opens.astimezone(ZoneInfo(zone)).time() == time(9)


@pytest.mark.parametrize(
    ("zone", "sunday", "opens", "closes"),
    [
        (LA, date(2026, 3, 8), utc(2026, 3, 8, 16), utc(2026, 3, 9, 0)),
        (BERLIN, date(2026, 3, 29), utc(2026, 3, 29, 7), utc(2026, 3, 29, 15)),
        (LA, date(2026, 11, 1), utc(2026, 11, 1, 17), utc(2026, 11, 2, 1)),
        (BERLIN, date(2026, 10, 25), utc(2026, 10, 25, 8), utc(2026, 10, 25, 16)),
        (SYDNEY, date(2026, 4, 5), utc(2026, 4, 4, 23), utc(2026, 4, 5, 7)),
        (SYDNEY, date(2026, 10, 4), utc(2026, 10, 3, 22), utc(2026, 10, 4, 6)),
    ],
)
def test_on_the_day_of_the_change_itself_the_window_follows_the_new_clock(zone, sunday, opens, closes):
    assert window_on(EVERY_DAY, zone, sunday) == (opens, closes)


def test_a_window_closing_on_the_friday_before_spring_forward_reopens_at_nine_daylight_time_on_monday():
    friday_evening = local(LA, 2026, 3, 6, 18)

    assert next_opening(WEEKDAYS, LA, friday_evening) == utc(2026, 3, 9, 16)


def test_a_window_closing_on_the_friday_before_fall_back_reopens_at_nine_standard_time_on_monday():
    friday_evening = local(BERLIN, 2026, 10, 23, 17)

    assert next_opening(WEEKDAYS, BERLIN, friday_evening) == utc(2026, 10, 26, 8)


# ---- local times that do not exist or exist twice


def at_half_past(hour: int) -> SendingRules:
    return SendingRules(timezone=BERLIN, window_start=time(hour, 30), sending_days=frozenset(range(7)))


@pytest.mark.parametrize(
    ("zone", "day", "start", "opens"),
    [
        (LA, date(2026, 3, 8), 2, utc(2026, 3, 8, 10)),  # 02:30 PST is skipped: 03:00 PDT
        (NEW_YORK, date(2026, 3, 8), 2, utc(2026, 3, 8, 7)),  # 03:00 EDT
        (BERLIN, date(2026, 3, 29), 2, utc(2026, 3, 29, 1)),  # 03:00 CEST
        (SYDNEY, date(2026, 10, 4), 2, utc(2026, 10, 3, 16)),  # 03:00 AEDT
    ],
)
def test_a_window_starting_in_the_skipped_hour_starts_at_the_first_instant_after_it(zone, day, start, opens):
    assert window_on(at_half_past(start), zone, day)[0] == opens
    assert opens.astimezone(ZoneInfo(zone)).time() == time(3)


@pytest.mark.parametrize(
    ("zone", "day", "start", "opens", "earlier"),
    [
        (LA, date(2026, 11, 1), 1, utc(2026, 11, 1, 9, 30), utc(2026, 11, 1, 8, 30)),  # 01:30 PST, not PDT
        (NEW_YORK, date(2026, 11, 1), 1, utc(2026, 11, 1, 6, 30), utc(2026, 11, 1, 5, 30)),
        (BERLIN, date(2026, 10, 25), 2, utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 0, 30)),  # 02:30 CET
        (SYDNEY, date(2026, 4, 5), 2, utc(2026, 4, 4, 16, 30), utc(2026, 4, 4, 15, 30)),  # 02:30 AEST
    ],
)
def test_a_window_starting_at_a_time_that_occurs_twice_starts_at_the_later_one(zone, day, start, opens, earlier):
    assert window_on(at_half_past(start), zone, day)[0] == opens
    assert opens - earlier == timedelta(hours=1)


def test_the_first_window_on_the_us_spring_forward_day_at_half_past_two_opens_at_three():
    rules = SendingRules.from_workspace(NEW_YORK, "02:30", "17:00", ["sun"])

    assert next_opening(rules, LA, utc(2026, 3, 8, 8)) == local(LA, 2026, 3, 8, 3)
    assert not is_open(rules, LA, utc(2026, 3, 8, 9, 59))
    assert is_open(rules, LA, utc(2026, 3, 8, 10))


def test_a_window_wholly_inside_the_skipped_hour_is_no_window_that_day():
    rules = SendingRules(timezone=LA, window_start=time(2), window_end=time(2, 45), sending_days=frozenset(range(7)))
    start, end = window_on(rules, LA, date(2026, 3, 8))

    assert start == end == utc(2026, 3, 8, 10)
    assert next_opening(rules, LA, utc(2026, 3, 8, 8)) == local(LA, 2026, 3, 9, 2)
    assert later_step_eligible(rules, LA, local(LA, 2026, 3, 7, 2, 30), 1) == local(LA, 2026, 3, 9, 2)


def test_a_window_ending_in_the_skipped_hour_ends_when_the_clocks_jump():
    rules = SendingRules(timezone=LA, window_start=time(1), window_end=time(2, 30), sending_days=frozenset(range(7)))

    assert window_on(rules, LA, date(2026, 3, 8)) == (utc(2026, 3, 8, 9), utc(2026, 3, 8, 10))


# ---- sending days, weekends and holidays


@pytest.mark.parametrize(
    ("rules", "day", "sends"),
    [
        (WEEKDAYS, date(2026, 3, 6), True),
        (WEEKDAYS, date(2026, 3, 7), False),
        (WEEKDAYS, date(2026, 3, 8), False),
        (EVERY_DAY, date(2026, 3, 7), True),
        (US, date(2026, 7, 2), True),
        (US, date(2026, 7, 3), False),  # Independence Day, observed on the Friday
        (US, date(2026, 11, 26), False),  # Thanksgiving
        (US, date(2026, 11, 27), True),
        (US, date(2026, 1, 19), False),  # Martin Luther King Jr. Day
        (DE, date(2026, 5, 1), False),  # Labour Day, a Friday
        (DE, date(2026, 4, 3), False),  # Good Friday
        (DE, date(2026, 4, 6), False),  # Easter Monday
        (DE, date(2026, 10, 2), True),
        (DE, date(2026, 7, 3), True),  # a US holiday, not a German one
        (DE, date(2026, 1, 6), True),  # Epiphany is Bavaria's, not Germany's
        (SendingRules(timezone=BERLIN, holiday_countries=("DE-BY",)), date(2026, 1, 6), False),
        (SendingRules(timezone=BERLIN, holiday_countries=("US", "DE")), date(2026, 5, 1), False),
        (SendingRules(timezone=BERLIN, holiday_countries=("US", "DE")), date(2026, 11, 26), False),
        (SendingRules(timezone=BERLIN, holiday_countries=("XX",)), date(2026, 7, 3), True),  # unknown: no holidays
    ],
)
def test_sending_days_are_the_chosen_weekdays_less_the_workspaces_holidays(rules, day, sends):
    assert is_sending_day(rules, day) is sends


@pytest.mark.parametrize(
    ("code", "known"), [("US", True), ("de", True), ("US-CA", True), ("XX", False), ("US-XX", False)]
)
def test_holiday_countries_are_the_holidays_packages_codes(code, known):
    assert is_holiday_country(code) is known


def test_no_message_goes_out_on_a_us_holiday_and_the_next_opening_is_after_the_long_weekend():
    thursday_evening = local(NEW_YORK, 2026, 7, 2, 18)

    assert not is_open(US, NEW_YORK, local(NEW_YORK, 2026, 7, 3, 10))
    assert next_opening(US, NEW_YORK, thursday_evening) == local(NEW_YORK, 2026, 7, 6, 9)


def test_thanksgiving_moves_a_step_to_the_friday():
    assert not is_open(US, LA, local(LA, 2026, 11, 26, 9))
    assert next_opening(US, LA, local(LA, 2026, 11, 26, 9)) == utc(2026, 11, 27, 17)


def test_a_holiday_is_judged_on_the_recipients_own_calendar_date():
    friday_morning_in_sydney = utc(2026, 7, 2, 23)  # Thursday 19:00 in New York, Friday 3 July 09:00 in Sydney

    assert not is_open(US, SYDNEY, friday_morning_in_sydney)
    assert next_opening(US, SYDNEY, friday_morning_in_sydney) == local(SYDNEY, 2026, 7, 6, 9)


def test_a_german_holiday_on_a_weekday_is_skipped():
    assert next_opening(DE, BERLIN, local(BERLIN, 2026, 4, 30, 17, 30)) == local(BERLIN, 2026, 5, 4, 9)


def test_nothing_goes_out_at_the_weekend():
    saturday_morning = local(BERLIN, 2026, 3, 7, 10)

    assert not is_open(WEEKDAYS, BERLIN, saturday_morning)
    assert next_opening(WEEKDAYS, BERLIN, saturday_morning) == local(BERLIN, 2026, 3, 9, 9)


# ---- is the window open, and when does it open next


@pytest.mark.parametrize(
    ("at", "open_", "opening"),
    [
        (local(BERLIN, 2026, 3, 3, 8, 59), False, local(BERLIN, 2026, 3, 3, 9)),
        (local(BERLIN, 2026, 3, 3, 9), True, local(BERLIN, 2026, 3, 3, 9)),
        (local(BERLIN, 2026, 3, 3, 12, 34, 56), True, local(BERLIN, 2026, 3, 3, 12, 34, 56)),
        (local(BERLIN, 2026, 3, 3, 16, 59, 59), True, local(BERLIN, 2026, 3, 3, 16, 59, 59)),
        (local(BERLIN, 2026, 3, 3, 17), False, local(BERLIN, 2026, 3, 4, 9)),  # the window has closed
        (local(BERLIN, 2026, 3, 3, 23, 59), False, local(BERLIN, 2026, 3, 4, 9)),
        (local(BERLIN, 2026, 3, 6, 17), False, local(BERLIN, 2026, 3, 9, 9)),
    ],
)
def test_the_window_is_open_from_its_start_until_just_before_its_end(at, open_, opening):
    assert is_open(WEEKDAYS, BERLIN, at) is open_
    assert next_opening(WEEKDAYS, BERLIN, at) == opening


def test_an_open_window_opens_at_the_instant_asked_about_and_answers_in_utc():
    at = local(KOLKATA, 2026, 3, 3, 10)

    opening = next_opening(WEEKDAYS, KOLKATA, at)

    assert opening == at
    assert opening.tzinfo is UTC


def test_the_recipients_day_not_the_utc_day_decides():
    monday_morning_in_sydney = utc(2026, 3, 8, 22, 30)  # still Sunday in UTC

    assert is_open(WEEKDAYS, SYDNEY, monday_morning_in_sydney)
    assert not is_open(WEEKDAYS, LA, monday_morning_in_sydney)


def test_with_no_sending_days_there_is_no_opening():
    rules = SendingRules(timezone=BERLIN, sending_days=frozenset())

    with pytest.raises(ValueError):
        next_opening(rules, BERLIN, utc(2026, 3, 2, 9))
    with pytest.raises(ValueError):
        later_step_eligible(rules, BERLIN, utc(2026, 3, 2, 9), 3)


def test_instants_without_a_zone_are_refused():
    with pytest.raises(ValueError):
        is_open(WEEKDAYS, BERLIN, datetime(2026, 3, 2, 9))
    with pytest.raises(ValueError):
        next_opening(WEEKDAYS, BERLIN, datetime(2026, 3, 2, 9))


def test_an_unknown_recipient_zone_is_refused():
    with pytest.raises(ValueError):
        is_open(WEEKDAYS, "Mars/Olympus_Mons", utc(2026, 3, 2, 9))


# ---- step 1 and later steps


def test_step_one_is_eligible_the_moment_the_lead_enters():
    entered = local(BERLIN, 2026, 3, 7, 22, 15)

    assert first_step_eligible(WEEKDAYS, BERLIN, entered) == entered
    assert first_step_eligible(WEEKDAYS, BERLIN, entered).tzinfo is UTC


def test_step_one_goes_out_at_once_inside_the_window_and_at_the_next_opening_outside_it():
    inside = local(BERLIN, 2026, 3, 3, 11)
    saturday = local(BERLIN, 2026, 3, 7, 11)

    assert send_time(WEEKDAYS, BERLIN, first_step_eligible(WEEKDAYS, BERLIN, inside), inside) == inside
    assert send_time(WEEKDAYS, BERLIN, first_step_eligible(WEEKDAYS, BERLIN, saturday), saturday) == local(
        BERLIN, 2026, 3, 9, 9
    )


def timeline(rules: SendingRules, zone: str, entered: datetime, delays: list[int]) -> list[date]:
    """The recipient's dates on which each step goes out, when each goes out as soon as it may."""
    sent = send_time(rules, zone, first_step_eligible(rules, zone, entered), entered)
    days = [local_day(zone, sent)]
    for delay in delays[1:]:
        eligible = later_step_eligible(rules, zone, sent, delay)
        sent = send_time(rules, zone, eligible, eligible)
        days.append(local_day(zone, sent))
    return days


SEED = [0, 3, 2, 2]


def test_the_seeds_delays_give_days_0_3_5_and_7_when_every_day_is_a_sending_day():
    monday = local(BERLIN, 2026, 3, 2, 10)

    days = timeline(EVERY_DAY, BERLIN, monday, SEED)

    assert days == [date(2026, 3, 2), date(2026, 3, 5), date(2026, 3, 7), date(2026, 3, 9)]
    assert [(d - days[0]).days for d in days] == [0, 3, 5, 7]


def test_the_seeds_delays_from_a_monday_shift_the_third_step_past_the_weekend():
    monday = local(BERLIN, 2026, 3, 2, 10)

    # Monday, Thursday, then day 5 is a Saturday: Monday the 9th, and step 4 counts from there.
    assert timeline(WEEKDAYS, BERLIN, monday, SEED) == [
        date(2026, 3, 2),
        date(2026, 3, 5),
        date(2026, 3, 9),
        date(2026, 3, 11),
    ]


def test_the_seeds_delays_from_a_wednesday_shift_the_second_step_past_the_weekend():
    wednesday = local(LA, 2026, 3, 4, 10)

    assert timeline(WEEKDAYS, LA, wednesday, SEED) == [
        date(2026, 3, 4),
        date(2026, 3, 9),  # day 3 is Saturday the 7th
        date(2026, 3, 11),
        date(2026, 3, 13),
    ]


def test_the_seeds_delays_around_thanksgiving():
    monday = local(NEW_YORK, 2026, 11, 23, 10)

    assert timeline(US, NEW_YORK, monday, SEED) == [
        date(2026, 11, 23),
        date(2026, 11, 27),  # Thursday the 26th is Thanksgiving
        date(2026, 11, 30),  # two days after Friday is a Sunday
        date(2026, 12, 2),
    ]


def test_a_later_step_is_eligible_at_the_window_start_delay_days_later():
    sent = local(KOLKATA, 2026, 3, 2, 15, 20)

    assert later_step_eligible(WEEKDAYS, KOLKATA, sent, 3) == local(KOLKATA, 2026, 3, 5, 9)


def test_a_later_step_counts_from_the_recipients_calendar_day():
    sent = utc(2026, 3, 2, 23, 30)  # Monday in UTC, already Tuesday 10:30 in Sydney

    assert later_step_eligible(WEEKDAYS, SYDNEY, sent, 1) == local(SYDNEY, 2026, 3, 4, 9)


def test_a_later_step_due_across_a_dst_change_is_eligible_at_nine_on_the_new_clock():
    sent = local(BERLIN, 2026, 3, 26, 11)

    assert later_step_eligible(WEEKDAYS, BERLIN, sent, 4) == utc(2026, 3, 30, 7)


def test_a_later_step_with_delay_zero_may_go_at_once_while_the_window_is_open():
    previous = local(BERLIN, 2026, 3, 3, 11)

    eligible = later_step_eligible(WEEKDAYS, BERLIN, previous, 0)

    assert eligible == local(BERLIN, 2026, 3, 3, 9)
    assert send_time(WEEKDAYS, BERLIN, eligible, previous) == previous


def test_a_later_step_with_delay_zero_after_the_window_closed_goes_at_the_next_opening():
    previous = local(BERLIN, 2026, 3, 3, 18)  # skipped after hours

    eligible = later_step_eligible(WEEKDAYS, BERLIN, previous, 0)

    assert eligible == local(BERLIN, 2026, 3, 3, 9)
    assert send_time(WEEKDAYS, BERLIN, eligible, previous) == local(BERLIN, 2026, 3, 4, 9)


def test_a_step_skipped_at_the_weekend_counts_from_that_weekend_day():
    skipped_on_saturday = local(BERLIN, 2026, 3, 7, 12)

    assert later_step_eligible(WEEKDAYS, BERLIN, skipped_on_saturday, 2) == local(BERLIN, 2026, 3, 9, 9)
    assert later_step_eligible(WEEKDAYS, BERLIN, skipped_on_saturday, 0) == local(BERLIN, 2026, 3, 9, 9)


def test_a_negative_delay_is_refused():
    with pytest.raises(ValueError):
        later_step_eligible(WEEKDAYS, BERLIN, utc(2026, 3, 2, 9), -1)


@pytest.mark.parametrize(
    ("eligible", "now", "goes"),
    [
        (local(BERLIN, 2026, 3, 4, 9), local(BERLIN, 2026, 3, 2, 12), local(BERLIN, 2026, 3, 4, 9)),  # future
        (local(BERLIN, 2026, 3, 2, 9), local(BERLIN, 2026, 3, 2, 12), local(BERLIN, 2026, 3, 2, 12)),  # overdue
        (local(BERLIN, 2026, 3, 2, 9), local(BERLIN, 2026, 3, 2, 17, 30), local(BERLIN, 2026, 3, 3, 9)),  # closed
        (local(BERLIN, 2026, 3, 6, 9), local(BERLIN, 2026, 3, 6, 18), local(BERLIN, 2026, 3, 9, 9)),  # weekend
        (local(BERLIN, 2026, 3, 7, 0), local(BERLIN, 2026, 3, 2, 12), local(BERLIN, 2026, 3, 9, 9)),
    ],
)
def test_a_step_goes_out_at_the_later_of_eligible_and_now_moved_into_a_window(eligible, now, goes):
    assert send_time(WEEKDAYS, BERLIN, eligible, now) == goes


# ---- days in the workspace's zone, and spreading


@pytest.mark.parametrize(
    ("rules", "at", "day"),
    [
        (WEEKDAYS, utc(2026, 3, 1, 23, 30), date(2026, 3, 2)),
        (SendingRules(timezone=LA), utc(2026, 3, 2, 7), date(2026, 3, 1)),
        (SendingRules(timezone=KOLKATA), utc(2026, 3, 2, 18, 29), date(2026, 3, 2)),
        (SendingRules(timezone=KOLKATA), utc(2026, 3, 2, 18, 30), date(2026, 3, 3)),
    ],
)
def test_a_senders_day_is_the_workspaces_calendar_date(rules, at, day):
    assert workspace_day(rules, at) == day


@pytest.mark.parametrize(
    ("start", "end", "daily_limit", "gap"),
    [
        ("09:00", "17:00", 40, timedelta(minutes=12)),
        ("09:00", "17:00", 1, timedelta(hours=8)),
        ("09:00", "17:00", 3, timedelta(hours=2, minutes=40)),
        ("09:30", "17:00", 30, timedelta(minutes=15)),
        ("08:00", "18:00", 7, timedelta(hours=10) / 7),
    ],
)
def test_two_sends_of_a_sender_are_the_window_length_over_the_daily_limit_apart(start, end, daily_limit, gap):
    rules = SendingRules.from_workspace(BERLIN, start, end)

    assert min_gap(rules, daily_limit) == gap


def test_the_gap_is_the_nominal_window_even_on_a_dst_day():
    assert min_gap(SendingRules(timezone=LA, window_start=time(1), window_end=time(3)), 2) == timedelta(hours=1)


@pytest.mark.parametrize("daily_limit", [0, -5])
def test_a_daily_limit_below_one_has_no_gap(daily_limit):
    with pytest.raises(ValueError):
        min_gap(WEEKDAYS, daily_limit)


@pytest.mark.parametrize(
    ("unit", "factor"),
    [(0.0, 0.8), (0.25, 0.9), (0.5, 1.0), (0.75, 1.1)],
)
def test_jitter_maps_the_unit_linearly_onto_plus_or_minus_twenty_percent(unit, factor):
    gap = timedelta(minutes=12)

    assert jittered(gap, unit) == gap * factor


@pytest.mark.parametrize("unit", [i / 97 for i in range(97)] + [0.999999999])
def test_jitter_stays_within_twenty_percent_and_is_reproducible(unit):
    gap = timedelta(minutes=12)

    assert gap * 0.8 <= jittered(gap, unit) <= gap * 1.2
    assert jittered(gap, unit) == jittered(gap, unit)


@pytest.mark.parametrize("unit", [1.0, -0.01, float("nan"), 7.0])
def test_a_jitter_unit_outside_zero_to_one_is_refused(unit):
    with pytest.raises(ValueError):
        jittered(timedelta(minutes=12), unit)


# ---- the rules from a workspace


def test_rules_from_a_workspace_read_the_apis_spelling():
    rules = SendingRules.from_workspace(BERLIN, "08:30", "18:00", ["mon", "wed", "Sat"], ["de", "US-CA"])

    assert rules == SendingRules(
        timezone=BERLIN,
        window_start=time(8, 30),
        window_end=time(18),
        sending_days=frozenset({0, 2, 5}),
        holiday_countries=("DE", "US-CA"),
    )
    assert SendingRules.from_workspace(BERLIN) == WEEKDAYS
    assert hash(SendingRules.from_workspace(BERLIN)) == hash(WEEKDAYS)


@pytest.mark.parametrize(
    "settings",
    [
        {"timezone": "Mars/Olympus_Mons"},
        {"timezone": BERLIN, "window_start": "9:00"},
        {"timezone": BERLIN, "window_start": "25:00"},
        {"timezone": BERLIN, "window_start": "17:00", "window_end": "09:00"},
        {"timezone": BERLIN, "window_start": "09:00", "window_end": "09:00"},
        {"timezone": BERLIN, "sending_days": ["funday"]},
    ],
)
def test_rules_that_make_no_sense_are_refused(settings):
    with pytest.raises(ValueError):
        SendingRules.from_workspace(**settings)


def test_sending_days_outside_the_week_are_refused():
    with pytest.raises(ValueError):
        SendingRules(timezone=BERLIN, sending_days=frozenset({7}))
