"""The send protocol end to end: claim, re-check, decide, send, record."""

from __future__ import annotations

from datetime import UTC, timedelta

from plera.aggregates.enrollment import StepStatus
from plera.commands.claims import claim_due
from plera.commands.dispatch import dispatch

LENA = {
    "first_name": "Lena",
    "email": "lena@acme.example",
    "linkedin_url": "linkedin.com/in/lena",
    "timezone": "Europe/Berlin",
}


def test_the_seed_sequence_goes_out_in_the_window_and_shifts_past_the_weekend(world):
    world.import_leads(LENA)
    world.launch()

    assert world.dispatch() == {}  # 08:00 in Berlin: the window opens at 09:00
    assert world.invites() == []
    world.advance(hours=1)  # 09:00 Berlin, Monday 2 March
    assert [i["recipient_profile_url"] for i in world.invites()] == ["https://www.linkedin.com/in/lena"]

    for _ in range(10):
        world.advance(days=1)
    emails = world.emails_to("lena@acme.example")
    # Then day 3 (Thursday); day 5 is a Saturday, so Monday; then two days on, Wednesday.
    sent_at = [m["Date"].datetime.astimezone(UTC) for m in emails]
    assert [d.date().isoformat() for d in sent_at] == ["2026-03-05", "2026-03-09", "2026-03-11"]
    assert {d.time().isoformat() for d in sent_at} == {"08:00:00"}  # 09:00 in Berlin
    first, second, third = emails
    assert second["In-Reply-To"] == first["Message-ID"] and third["References"] == first["Message-ID"]
    assert second["Subject"] == "Re: " + first["Subject"]
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert first["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/v1/unsubscribe/")
    assert first["Message-ID"] == world.enrollment("Lena").steps[1]["message_id"]
    assert world.enrollment("Lena").status == "completed"


def test_a_reply_committed_before_the_decision_means_no_send(world):
    world.import_leads({"first_name": "Max", "email": "max@acme.example", "timezone": "Europe/Berlin"})
    world.launch(steps=[{"channel": "email", "delay_days": 0, "condition": "no_reply"}])
    world.clock.advance(timedelta(hours=1))
    world.catch_up()
    claims = claim_due(world.sv, "w1", workspace_id=world.workspace_id)
    assert len(claims) == 1

    enrollment = world.enrollment("Max")
    enrollment.record_reply(channel="email", message_ref=None, at=world.clock.now(), actor="webhook")
    world.sv.events.save(enrollment)

    assert dispatch(world.sv, claims[0]) == "cancelled"
    assert world.smtp.messages == []
    assert world.enrollment("Max").step_status(1) is StepStatus.SKIPPED
