"""The resume preview plans what a paused sequence sends when resumed: from the window, spread, within limits."""

from __future__ import annotations

from datetime import datetime, timedelta

from plera.commands.resume_preview import resume_preview
from plera.commands.sequences import set_sequence_state

ONE_EMAIL = [{"channel": "email", "delay_days": 0, "condition": "always"}]


def test_the_resume_preview_spreads_the_overdue_steps_and_the_resume_keeps_to_it(world):
    for name in ("Ann", "Ben", "Cat"):
        world.import_leads({"first_name": name, "email": f"{name.lower()}@acme.example", "timezone": "Europe/Berlin"})
        world.clock.advance(timedelta(minutes=1))
    sequence = world.launch(steps=ONE_EMAIL)
    set_sequence_state(world.sv, world.workspace_id, sequence, "pause", "test")
    world.advance(days=1, hours=3)  # Tuesday 11:03 Berlin: all three are overdue

    plan = resume_preview(world.sv, world.workspace_id, sequence)
    assert sorted(p["lead_id"] for p in plan) == sorted(str(world.leads[n]) for n in ("Ann", "Ben", "Cat"))
    times = [datetime.fromisoformat(p["send_at"]) for p in plan]
    assert times[0] == world.clock.now()
    gap = timedelta(hours=8) / 100  # the sender's daily limit is 100 over an 8-hour window
    assert [b - a for a, b in zip(times, times[1:], strict=False)] == [gap, gap]
    assert {p["sender_id"] for p in plan} == {str(world.senders["email"])}

    set_sequence_state(world.sv, world.workspace_id, sequence, "resume", "test")
    sent: list[datetime] = []
    for _ in range(12):  # an hour in 5-minute ticks: no burst, one send per gap
        world.advance(minutes=5)
        sent = [m.message["Date"].datetime for m in world.smtp.messages]
    assert len(sent) == 3
    assert all(b - a >= gap * 0.8 for a, b in zip(sent, sent[1:], strict=False))


def test_the_resume_preview_lists_no_send_for_a_lead_without_the_address_and_gives_its_slot_to_the_next(world):
    world.import_leads(
        {"first_name": "Ann", "email": "ann@acme.example", "timezone": "Europe/Berlin"},
        {"first_name": "Ben", "linkedin_url": "https://www.linkedin.com/in/ben"},
        {"first_name": "Cat", "email": "cat@acme.example", "timezone": "Europe/Berlin"},
    )
    sequence = world.launch(steps=ONE_EMAIL)
    set_sequence_state(world.sv, world.workspace_id, sequence, "pause", "test")
    world.advance(days=1, hours=3)  # Tuesday 11:03 Berlin

    plan = resume_preview(world.sv, world.workspace_id, sequence)

    assert sorted(p["lead_id"] for p in plan) == sorted(str(world.leads[n]) for n in ("Ann", "Cat"))
    times = [datetime.fromisoformat(p["send_at"]) for p in plan]
    assert times == [world.clock.now(), world.clock.now() + timedelta(hours=8) / 100]  # no slot is Ben's


def test_a_step_queued_for_a_lead_without_the_address_is_left_out_of_the_resume_preview(world):
    world.import_leads({"first_name": "Ann", "email": "ann@acme.example", "timezone": "Europe/Berlin"})
    sequence = world.launch(steps=ONE_EMAIL)
    set_sequence_state(world.sv, world.workspace_id, sequence, "pause", "test")
    world.import_leads({"first_name": "Ben", "linkedin_url": "https://www.linkedin.com/in/ben"})  # waits: paused
    ben = world.enrollment("Ben")
    now = world.clock.now()  # queued as a release that skipped only at dispatch did
    ben.schedule(step=1, eligible_at=now, sequence_running=True, at=now, actor="test")
    world.sv.events.save(ben)
    world.catch_up()

    plan = resume_preview(world.sv, world.workspace_id, sequence)

    assert [p["lead_id"] for p in plan] == [str(world.leads["Ann"])]
