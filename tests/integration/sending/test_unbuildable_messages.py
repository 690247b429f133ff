"""A message that cannot be made for one lead fails that lead's step for good, with the reason,
before its dispatch: nothing is handed to the channel, the others go out, and nothing is left
dispatching to end as an unknown outcome."""

from __future__ import annotations

from plera.aggregates.enrollment import StepStatus
from tests.integration.sending.helpers import due_rows

TWO_EMAILS = [
    {"channel": "email", "delay_days": 0, "condition": "always"},
    {"channel": "email", "delay_days": 2, "condition": "always"},
]
MAX = {"first_name": "Max\r\nBcc: x@evil.example", "email": "max@acme.example", "timezone": "Europe/Berlin"}
ANA = {"first_name": "Ana", "email": "ana@acme.example", "timezone": "Europe/Berlin"}


def test_a_lead_whose_first_name_holds_a_line_break_fails_for_good_with_the_reason(world):
    world.import_leads(MAX, ANA)
    world.launch(steps=TWO_EMAILS)

    outcomes = [world.advance(hours=1), world.advance(hours=1), world.advance(hours=1)]  # from 09:00 in Berlin
    assert sum(o.get("failed", 0) for o in outcomes) == 1 and sum(o.get("sent", 0) for o in outcomes) == 1
    max_ = world.enrollment(MAX["first_name"])
    assert max_.step_status(1) is StepStatus.FAILED
    assert max_.steps[0]["reason"] == "lead.first_name of this lead holds a line break or another control character"
    assert world.emails_to("max@acme.example") == [] and len(world.emails_to("ana@acme.example")) == 1
    assert world.smtp.messages and all("x@evil.example" not in m.rcpt_tos for m in world.smtp.messages)

    # Past the lease nothing is dispatching, so nothing becomes an unknown outcome; step 2 comes on.
    world.advance(minutes=30)
    max_ = world.enrollment(MAX["first_name"])
    assert max_.step_status(1) is StepStatus.FAILED
    assert max_.step_status(2) is StepStatus.SCHEDULED
    assert [(r.enrollment_id, r.step) for r in due_rows(world) if r.enrollment_id == max_.id] == [(max_.id, 2)]
