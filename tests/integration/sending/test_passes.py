"""A dispatch pass takes its claims through the protocol together: one append decides them all, and
what one lead did meanwhile changes only that lead's send."""

from __future__ import annotations

from datetime import date

from plera.aggregates.enrollment import StepStatus
from plera.commands.claims import claim_due, release_all
from plera.commands.dispatch import Decided, decide, record_pass
from plera.commands.outbox import Outbox
from plera.commands.recheck import Known, Ready, Release, recheck
from tests.integration.sending.helpers import add_email_sender, berlin, one_lead_each, send_email_from

ONE_EMAIL = [{"channel": "email", "delay_days": 0, "condition": "no_reply"}]
MONDAY = date(2026, 3, 2)


def test_a_reply_committed_after_the_passs_recheck_stops_that_leads_send_and_the_others_go(world):
    ann, ben = add_email_sender(world, "Ann", daily_limit=100), add_email_sender(world, "Ben", daily_limit=100)
    world.launch(steps=ONE_EMAIL)
    send_email_from(world, ann, ben)  # one lead each, so one pass takes both (a sender sends once a slot)
    max_, lena = one_lead_each(world, ann, ben)
    world.import_leads({"first_name": "Max", **max_}, {"first_name": "Lena", **lena})
    world.clock.set(berlin(MONDAY, 9))
    world.catch_up()
    claims = claim_due(world.sv, "w1", workspace_id=world.workspace_id)
    now = world.clock.now()
    known = Known.load(world.sv, claims)
    verdicts = [recheck(world.sv, known, claim, now) for claim in claims]
    assert len(verdicts) == 2 and all(isinstance(v, Ready) for v in verdicts)

    replied = world.enrollment("Max")  # Max answers before the pass appends its decisions
    replied.record_reply(channel="email", message_ref=None, at=now, actor="webhook")
    world.sv.events.save(replied)
    decided = decide(world.sv, known, verdicts, now)

    by_lead = {v.where.enrollment.lead_id if isinstance(v, Ready) else None: v for v in decided}
    assert set(by_lead) == {world.leads["Lena"], None}
    assert isinstance(by_lead[None], Release) and by_lead[None].name == "cancelled"
    assert world.enrollment("Lena").step_status(1) is StepStatus.DISPATCHING
    assert world.enrollment("Max").step_status(1) is StepStatus.SKIPPED  # the reply's doing, no decision

    release_all(world.sv, [(c, True, None) for c, v in zip(claims, decided, strict=True) if isinstance(v, Release)])
    pass_ = Decided(decided, not_after=float("inf"))
    with Outbox(world.sv) as outbox:
        outcomes = record_pass(world.sv, pass_, outbox.send_all(pass_.messages))
    assert sorted(outcomes) == ["cancelled", "sent"]
    assert [m.rcpt_tos for m in world.smtp.messages] == [[lena["email"]]]
    assert world.enrollment("Lena").step_status(1) is StepStatus.SENT
