"""Leads without an address for a channel: their steps on it are skipped when they come up, so they
never wait in the due queue nor take a place in a sender's day, and the sends of the leads that can
be reached go out as if the others were not there."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise
from typing import Any

from plera.aggregates.enrollment import LeadEnrollment, StepStatus
from tests.integration.sending.helpers import (
    BERLIN,
    add_email_sender,
    berlin,
    due_rows,
    send_email_from,
    sent_at,
    sent_per_day,
)
from tests.integration.sending.world import World

ONE_EMAIL = [{"channel": "email", "delay_days": 0, "condition": "no_reply"}]
MONDAY, WEDNESDAY = date(2026, 3, 2), date(2026, 3, 4)


def _lead(n: int) -> dict[str, Any]:
    """Every other lead has only a LinkedIn URL."""
    lead = {"first_name": f"Lead{n}", "timezone": "Europe/Berlin", "linkedin_url": f"https://linkedin.com/in/lead{n}"}
    return lead | ({"email": f"lead{n}@acme.example"} if n % 2 == 0 else {})


def _skips(world: World, name: str) -> list[LeadEnrollment.StepSkipped]:
    return list(world.sv.events.stored_events([world.enrollment(name).id], LeadEnrollment.StepSkipped))


def test_with_a_limit_of_three_the_days_three_sends_go_to_the_leads_with_an_email_spread_as_if_alone(world):
    world.clock.set(berlin(MONDAY, 8))
    dana = add_email_sender(world, "Dana", daily_limit=3)
    world.launch(steps=ONE_EMAIL)
    send_email_from(world, dana)
    for n in range(6):  # a minute apart, so their eligible times alternate: with an email, without
        world.import_leads(_lead(n))
        world.clock.advance(timedelta(minutes=1))
    world.catch_up()

    # The three without an email are skipped on entry, before 09:00: none of them is ever queued.
    assert {r.enrollment_id for r in due_rows(world)} == {world.enrollment(f"Lead{n}").id for n in (0, 2, 4)}
    for n in (1, 3, 5):
        assert [(s.step, s.reason) for s in _skips(world, f"Lead{n}")] == [(1, "no email address")]
        assert _skips(world, f"Lead{n}")[0].timestamp < berlin(MONDAY, 9)
        assert world.enrollment(f"Lead{n}").status == "completed"

    world.clock.set(berlin(MONDAY, 8, 50))
    while world.clock.now() < berlin(MONDAY, 17):
        world.advance(minutes=5)

    sent = sorted(world.smtp.messages, key=lambda m: sent_at(m.message))
    assert [m.rcpt_tos for m in sent] == [[f"lead{n}@acme.example"] for n in (0, 2, 4)]
    times = [sent_at(m.message) for m in sent]
    assert times[0] == berlin(MONDAY, 9)  # the first at the window's start
    gap = timedelta(hours=8) / 3  # the window shared by the daily limit, ±20% jitter, and a tick at most
    assert all(gap * 0.8 <= b - a <= gap * 1.2 + timedelta(minutes=5) for a, b in pairwise(times)), times
    assert all(t.astimezone(BERLIN).date() == MONDAY for t in times)
    assert sent_per_day(world, dana) == {MONDAY: 3}  # the day's capacity went to real sends only


def test_a_step_a_lead_cannot_be_reached_on_is_skipped_at_once_and_the_next_counts_from_that_day(world):
    world.clock.set(berlin(MONDAY, 8))
    steps = [
        {"channel": "email", "delay_days": 0, "condition": "always"},
        {"channel": "linkedin_invite", "delay_days": 2, "condition": "no_reply"},
    ]
    world.import_leads(
        {"first_name": "Ola", "linkedin_url": "https://www.linkedin.com/in/ola", "timezone": "Europe/Berlin"}
    )
    world.launch(steps=steps)

    enrollment = world.enrollment("Ola")
    assert enrollment.step_status(1) is StepStatus.SKIPPED
    assert enrollment.steps[0]["reason"] == "no email address"
    assert enrollment.steps[1]["eligible_at"] == berlin(WEDNESDAY, 9)  # two days from Monday's skip
    assert [(r.step, r.eligible_at) for r in due_rows(world)] == [(2, berlin(WEDNESDAY, 9))]

    world.advance(days=2, hours=1, minutes=5)  # Wednesday 09:05
    assert world.smtp.messages == []
    assert [i["recipient_profile_url"] for i in world.invites()] == ["https://www.linkedin.com/in/ola"]
