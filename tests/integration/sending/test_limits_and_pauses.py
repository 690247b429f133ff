"""Pacing and holding back: a sender's daily limit across workers, the gap between its sends, pauses
committed while a step is claimed, resumes that do not burst, a sequence's daily new leads, and
LinkedIn messages that wait for their invite's acceptance."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from itertools import pairwise
from typing import Any
from uuid import UUID

from plera.aggregates.enrollment import StepStatus
from plera.commands.claims import Claim, claim_due
from plera.commands.dispatch import dispatch
from plera.commands.enrollments import control_enrollment
from plera.commands.linkedin_inbound import LinkedInEvent, take_in
from plera.commands.sequences import set_sequence_state
from tests.integration.sending.helpers import (
    BERLIN,
    add_email_sender,
    berlin,
    dispatch_together,
    due_rows,
    send_email_from,
    sent_at,
    sent_per_day,
)
from tests.integration.sending.world import ACTOR, World

ONE_EMAIL = [{"channel": "email", "delay_days": 0, "condition": "no_reply"}]
MAX = {"first_name": "Max", "email": "max@acme.example", "timezone": "Europe/Berlin"}
MONDAY, TUESDAY, WEDNESDAY, THURSDAY = (date(2026, 3, d) for d in (2, 3, 4, 5))
FRIDAY, SATURDAY, SUNDAY, NEXT_MONDAY, NEXT_TUESDAY = (date(2026, 3, d) for d in (6, 7, 8, 9, 10))


def _lead(n: int) -> dict[str, Any]:
    return {"first_name": f"Lead{n}", "email": f"lead{n}@acme.example", "timezone": "Europe/Berlin"}


def _sent_per_day(world: World) -> Counter[date]:
    return Counter(sent_at(m.message).astimezone(BERLIN).date() for m in world.smtp.messages)


# ---- a sender's daily limit and its pace


def _ten_leads_for_a_sender_of_three_a_day_through_two_workers(world: World) -> tuple[UUID, list[str], dict[date, int]]:
    """From Thursday to the Tuesday after: ten leads enrolled a minute apart, one sender with a daily
    limit of 3, and two workers dispatching at the same moments every 30 minutes of each day. Each
    worker claims one step at a time, so the two contend for the sender on every tick, as workers do
    when the queue is longer than a batch. Returns the sender, the addresses in enrollment order, and
    how many emails had gone out by the end of each day."""
    world.clock.set(berlin(THURSDAY, 8))
    dana = add_email_sender(world, "Dana", daily_limit=3)
    world.launch(steps=ONE_EMAIL)
    send_email_from(world, dana)
    addresses = []
    for n in range(10):  # a minute apart, so their eligible times are in this order
        world.import_leads(_lead(n))
        addresses.append(f"lead{n}@acme.example")
        world.clock.advance(timedelta(minutes=1))

    workers = [world.worker("w1", batch=1), world.worker("w2", batch=1)]
    by_evening: dict[date, int] = {}
    try:
        with ThreadPoolExecutor(2, thread_name_prefix="test-worker") as pool:
            for day in (THURSDAY, FRIDAY, SATURDAY, SUNDAY, NEXT_MONDAY, NEXT_TUESDAY):
                world.clock.set(berlin(day, 8, 30))
                while world.clock.now() <= berlin(day, 17):
                    dispatch_together(world, workers, pool)
                    world.clock.advance(timedelta(minutes=30))
                by_evening[day] = len(world.smtp.messages)
    finally:
        for worker in workers:
            worker.stop()
    assert sum(w.outcomes.get("sent", 0) for w in workers) == len(world.smtp.messages)
    return dana, addresses, by_evening


def test_two_workers_share_one_senders_daily_limit_exactly_and_nothing_is_dropped(world):
    dana, addresses, by_evening = _ten_leads_for_a_sender_of_three_a_day_through_two_workers(world)

    # Exactly the limit each sending day, none at the weekend, all ten in the end.
    assert by_evening == {THURSDAY: 3, FRIDAY: 6, SATURDAY: 6, SUNDAY: 6, NEXT_MONDAY: 9, NEXT_TUESDAY: 10}
    assert _sent_per_day(world) == {THURSDAY: 3, FRIDAY: 3, NEXT_MONDAY: 3, NEXT_TUESDAY: 1}
    assert sent_per_day(world, dana) == {THURSDAY: 3, FRIDAY: 3, NEXT_MONDAY: 3, NEXT_TUESDAY: 1}
    assert sorted(m.rcpt_tos[0] for m in world.smtp.messages) == sorted(addresses)  # each once
    assert {world.enrollment(f"Lead{n}").step_status(1) for n in range(10)} == {StepStatus.SENT}
    assert due_rows(world) == []


def test_what_two_workers_cannot_send_today_rolls_over_earliest_enrolled_first(world):
    _, addresses, _ = _ten_leads_for_a_sender_of_three_a_day_through_two_workers(world)

    went_out: dict[date, list[str]] = {}
    for m in world.smtp.messages:
        went_out.setdefault(sent_at(m.message).astimezone(BERLIN).date(), []).extend(m.rcpt_tos)
    assert went_out == {
        THURSDAY: addresses[0:3],
        FRIDAY: addresses[3:6],
        NEXT_MONDAY: addresses[6:9],
        NEXT_TUESDAY: addresses[9:],
    }


def test_one_senders_sends_are_spread_at_least_the_window_shared_by_its_limit_less_20_percent_apart(world):
    eve = add_email_sender(world, "Eve", daily_limit=16)  # 8 hours ÷ 16 = 30 minutes, ±20%
    world.launch(steps=ONE_EMAIL)
    send_email_from(world, eve)
    world.import_leads(*(_lead(n) for n in range(6)))

    worker = world.worker()
    try:
        world.clock.set(berlin(MONDAY, 9))
        while world.clock.now() < berlin(MONDAY, 13):
            world.dispatch(worker)
            world.clock.advance(timedelta(minutes=2))
    finally:
        worker.stop()

    times = [sent_at(m.message) for m in world.smtp.messages]
    assert len(times) == 6
    assert times[0] == berlin(MONDAY, 9)  # the first goes as the window opens
    gaps = [b - a for a, b in pairwise(times)]
    assert min(gaps) >= timedelta(minutes=24), gaps
    assert max(gaps) <= timedelta(minutes=36 + 2), gaps  # spread, not held back: 36 minutes and a tick at most


# ---- pauses while a step is claimed, and resumes


def _claimed_at_nine(world: World) -> Claim:
    """Max's step 1 claimed by a worker at 09:00 in Berlin, not yet dispatched."""
    world.import_leads(MAX)
    world.launch(steps=ONE_EMAIL)
    world.clock.set(berlin(MONDAY, 9))
    world.catch_up()
    (claim,) = claim_due(world.sv, "w1", workspace_id=world.workspace_id)
    return claim


def test_a_lead_paused_while_its_step_is_claimed_is_sent_nothing_and_gets_the_step_after_resuming(world):
    claim = _claimed_at_nine(world)
    control_enrollment(world.sv, world.workspace_id, claim.enrollment_id, "pause", ACTOR)

    assert dispatch(world.sv, claim) == "cancelled"
    assert world.smtp.messages == []
    assert world.advance(hours=1) == {}  # paused: it stays in the queue
    max_ = world.enrollment("Max")
    assert max_.paused and max_.step_status(1) is StepStatus.SCHEDULED and max_.attempts_of(1) == 0
    assert [(r.enrollment_id, r.paused, r.claimed_by) for r in due_rows(world)] == [(max_.id, True, None)]
    assert sent_per_day(world, world.senders["email"]) == {}  # the claim's capacity came back

    control_enrollment(world.sv, world.workspace_id, claim.enrollment_id, "resume", ACTOR)
    assert world.dispatch() == {"sent": 1}
    assert len(world.emails_to("max@acme.example")) == 1
    assert world.enrollment("Max").step_status(1) is StepStatus.SENT
    assert due_rows(world) == []


def test_a_sequence_paused_while_a_step_is_claimed_sends_nothing_and_the_step_goes_after_resuming(world):
    claim = _claimed_at_nine(world)
    assert world.sequence_id is not None
    set_sequence_state(world.sv, world.workspace_id, world.sequence_id, "pause", ACTOR)

    assert dispatch(world.sv, claim) == "cancelled"
    assert world.smtp.messages == []
    assert world.advance(hours=1) == {}
    max_ = world.enrollment("Max")
    assert max_.step_status(1) is StepStatus.SCHEDULED and max_.attempts_of(1) == 0
    assert [(r.enrollment_id, r.claimed_by) for r in due_rows(world)] == [(max_.id, None)]
    assert sent_per_day(world, world.senders["email"]) == {}

    set_sequence_state(world.sv, world.workspace_id, world.sequence_id, "resume", ACTOR)
    assert world.dispatch() == {"sent": 1}
    assert len(world.emails_to("max@acme.example")) == 1
    assert world.enrollment("Max").step_status(1) is StepStatus.SENT


def test_a_resumed_sequence_takes_up_its_waiting_leads_at_the_senders_pace_not_in_a_burst(world):
    finn = add_email_sender(world, "Finn", daily_limit=48)  # 8 hours ÷ 48 = 10 minutes, ±20%
    world.launch(steps=ONE_EMAIL)
    send_email_from(world, finn)
    world.import_leads(*(_lead(n) for n in range(6)))
    world.clock.set(berlin(MONDAY, 9))  # all six are due
    assert world.sequence_id is not None
    set_sequence_state(world.sv, world.workspace_id, world.sequence_id, "pause", ACTOR)
    for _ in range(3):
        assert world.advance(days=1) == {}  # Tuesday to Thursday, 09:00: paused
    world.clock.set(berlin(THURSDAY, 10))

    set_sequence_state(world.sv, world.workspace_id, world.sequence_id, "resume", ACTOR)
    worker = world.worker()
    try:
        for _ in range(13):  # an hour, a tick every 5 minutes
            world.dispatch(worker)
            world.clock.advance(timedelta(minutes=5))
    finally:
        worker.stop()

    times = [sent_at(m.message) for m in world.smtp.messages]
    assert times[0] == berlin(THURSDAY, 10)
    assert len(times) >= 5  # they do go: at the sender's pace
    gaps = [b - a for a, b in pairwise(times)]
    assert min(gaps) >= timedelta(minutes=8), gaps  # one per gap, never two


# ---- a sequence's new leads per day


def test_a_sequence_starts_only_its_daily_new_leads_each_day_and_the_rest_on_later_days(world):
    world.import_leads(*(_lead(n) for n in range(5)))
    world.launch(steps=ONE_EMAIL, daily_new_leads=2)

    worker = world.worker()
    try:
        for day in (MONDAY, TUESDAY, WEDNESDAY, THURSDAY):
            world.clock.set(berlin(day, 8, 30))
            while world.clock.now() <= berlin(day, 17):
                world.dispatch(worker)
                world.clock.advance(timedelta(minutes=30))
    finally:
        worker.stop()

    assert _sent_per_day(world) == {MONDAY: 2, TUESDAY: 2, WEDNESDAY: 1}
    assert sorted(m.rcpt_tos[0] for m in world.smtp.messages) == [f"lead{n}@acme.example" for n in range(5)]
    assert {world.enrollment(f"Lead{n}").step_status(1) for n in range(5)} == {StepStatus.SENT}


# ---- LinkedIn messages wait for the invite's acceptance

INVITE_THEN_MESSAGE = [
    {"channel": "linkedin_invite", "delay_days": 0, "condition": "always"},
    {"channel": "linkedin_message", "delay_days": 1, "condition": "no_reply"},
]
LENA = {"first_name": "Lena", "linkedin_url": "linkedin.com/in/lena", "timezone": "Europe/Berlin"}
LENA_PROFILE = "https://www.linkedin.com/in/lena"


def _invited_on_monday(world: World) -> None:
    world.import_leads(LENA)
    world.launch(steps=INVITE_THEN_MESSAGE)
    assert world.advance(hours=1) == {"sent": 1}  # Monday 09:00 in Berlin
    assert [i["recipient_profile_url"] for i in world.invites()] == [LENA_PROFILE]


def _accept_invite(world: World) -> None:
    """Lena accepts at the provider, and its webhook event is taken in as the webhook route does."""
    answer = world.sandbox.sandbox.accept({"account_id": "alex", "profile_url": LENA_PROFILE})
    world.catch_up()
    assert take_in(world.sv, world.workspace_id, LinkedInEvent.model_validate(answer.body["event"])) == 1
    world.catch_up()


def _linkedin_messages(world: World) -> list[str]:
    return [m["recipient_profile_url"] for m in world.sandbox.sandbox.state()["messages"]]


def test_a_linkedin_message_waits_for_acceptance_and_is_skipped_when_none_comes_in_14_days(world):
    _invited_on_monday(world)
    invited_at = world.clock.now()

    assert world.advance(days=1) == {"deferred": 1}  # Tuesday: due, but the invite is not accepted
    lena = world.enrollment("Lena")
    assert lena.step_status(2) is StepStatus.SCHEDULED
    assert [(r.step, r.not_before) for r in due_rows(world)] == [(2, invited_at + timedelta(days=14))]
    for _ in range(12):  # to Sunday 15 March
        assert world.advance(days=1) == {}
    assert _linkedin_messages(world) == []

    assert world.advance(days=1) == {"skipped": 1}  # Monday 16 March 09:00: 14 days after the invite
    lena = world.enrollment("Lena")
    assert lena.step_status(2) is StepStatus.SKIPPED
    assert lena.steps[1]["reason"] == "the LinkedIn invite was not accepted in time"
    assert lena.status == "completed"
    assert _linkedin_messages(world) == []
    assert due_rows(world) == []


def test_a_linkedin_message_goes_on_its_day_when_the_invite_was_accepted_before(world):
    _invited_on_monday(world)
    world.clock.advance(timedelta(hours=3))
    _accept_invite(world)

    assert world.advance(hours=21) == {"sent": 1}  # Tuesday 09:00 in Berlin
    assert _linkedin_messages(world) == [LENA_PROFILE]
    assert world.enrollment("Lena").step_status(2) is StepStatus.SENT


def test_an_invite_accepted_while_the_message_waits_for_it_lets_the_message_go_at_once(world):
    _invited_on_monday(world)
    assert world.advance(days=1) == {"deferred": 1}  # Tuesday 09:00: the message waits for acceptance
    world.clock.advance(timedelta(hours=1))
    _accept_invite(world)  # Tuesday 10:00

    assert world.advance(minutes=30) == {"sent": 1}
    assert _linkedin_messages(world) == [LENA_PROFILE]
    assert world.enrollment("Lena").step_status(2) is StepStatus.SENT
