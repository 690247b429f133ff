"""What a failed send does: a passing refusal is retried with backoff, a permanent one ends the lead's
channel, and a sender's own fault pauses that sender and returns the step to the queue."""

from __future__ import annotations

from datetime import timedelta

from plera.aggregates.enrollment import StepStatus, message_id_for
from plera.commands.linkedin_inbound import LinkedInEvent, take_in
from plera.commands.messaging import ChooseSenders, choose_senders
from plera.commands.sender_accounts import AddSenderAccount, add_sender_account, set_sender_status
from tests.fakes.lossy_proxy import LossyProxy
from tests.integration.sending.helpers import add_email_sender, due_rows, one_lead_each, send_email_from, sender
from tests.integration.sending.world import ACTOR

MAX = {"first_name": "Max", "email": "max@acme.example", "timezone": "Europe/Berlin"}
ONE_EMAIL = [{"channel": "email", "delay_days": 0, "condition": "no_reply"}]
GREYLISTED = "4.7.1 greylisted, try again later"


def test_a_passing_refusal_is_retried_15_minutes_later_under_the_same_message_id_and_arrives_once(world):
    world.smtp.refuse("max@acme.example", 451, GREYLISTED)
    world.import_leads(MAX)
    world.launch(steps=ONE_EMAIL)

    assert world.advance(hours=1) == {"retry": 1}  # 09:00 in Berlin
    refused_at = world.clock.now()
    max_ = world.enrollment("Max")
    assert max_.step_status(1) is StepStatus.SCHEDULED
    assert max_.attempts_of(1) == 1
    assert max_.steps[0]["reason"] == f"451 {GREYLISTED}"
    assert max_.steps[0]["eligible_at"] == refused_at + timedelta(minutes=15)
    assert [(r.enrollment_id, r.step, r.eligible_at) for r in due_rows(world)] == [
        (max_.id, 1, refused_at + timedelta(minutes=15))
    ]
    assert world.smtp.messages == []

    world.smtp.allow("max@acme.example")
    assert world.advance(minutes=14) == {}  # not before its backoff
    assert world.advance(minutes=1) == {"sent": 1}
    assert world.advance(hours=4) == {}

    (email,) = world.emails_to("max@acme.example")
    max_ = world.enrollment("Max")
    assert max_.step_status(1) is StepStatus.SENT
    # The retry is attempt 1, so it names a new message: the refused attempt 0 never reached the recipient.
    # The same message: the refused attempt may never be told apart from one that went through.
    assert email["Message-ID"] == max_.steps[0]["message_id"] == message_id_for(max_.id, 1, 0)
    assert due_rows(world) == []


def test_a_recipient_refused_in_passing_four_times_fails_for_good_after_backing_off(world):
    world.smtp.refuse("max@acme.example", 451, GREYLISTED)
    world.import_leads(MAX)
    world.launch(steps=ONE_EMAIL)

    eligible = []
    for wait in (timedelta(hours=1), timedelta(minutes=15), timedelta(hours=1)):
        world.clock.advance(wait)
        assert world.dispatch() == {"retry": 1}
        eligible.append(world.enrollment("Max").steps[0]["eligible_at"] - world.clock.now())
    assert eligible == [timedelta(minutes=15), timedelta(hours=1), timedelta(hours=4)]
    assert world.advance(hours=3, minutes=59) == {}
    assert world.advance(minutes=1) == {"failed": 1}  # 14:15 in Berlin: the fourth attempt

    max_ = world.enrollment("Max")
    assert max_.step_status(1) is StepStatus.FAILED
    assert max_.attempts_of(1) == 4
    assert max_.steps[0]["reason"] == f"gave up after 4 attempts: 451 {GREYLISTED}"
    assert max_.status == "completed"
    assert due_rows(world) == []
    assert world.advance(days=1) == {}
    assert world.smtp.messages == []
    assert sender(world, world.senders["email"]).status == "active"  # the recipient's trouble, not the sender's


def test_an_unknown_recipient_fails_the_step_skips_the_other_emails_and_linkedin_still_goes(world):
    world.smtp.refuse("lena@acme.example", 550, "5.1.1 user unknown")
    world.import_leads(
        {
            "first_name": "Lena",
            "email": "lena@acme.example",
            "linkedin_url": "linkedin.com/in/lena",
            "timezone": "Europe/Berlin",
        }
    )
    world.launch(
        steps=[
            {"channel": "email", "delay_days": 0, "condition": "no_reply"},
            {"channel": "linkedin_invite", "delay_days": 1, "condition": "always"},
            {"channel": "email", "delay_days": 2, "condition": "no_reply"},
        ]
    )

    assert world.advance(hours=1) == {"failed": 1}  # Monday 09:00 in Berlin
    lena = world.enrollment("Lena")
    assert lena.step_status(1) is StepStatus.FAILED
    assert lena.attempts_of(1) == 1
    assert lena.steps[0]["reason"] == "550 5.1.1 user unknown"
    assert lena.step_status(3) is StepStatus.SKIPPED
    assert lena.steps[2]["reason"] == "email unreachable: 550 5.1.1 user unknown"
    assert lena.step_status(2) is StepStatus.SCHEDULED
    tuesday_0900_berlin = world.clock.now() + timedelta(days=1)
    assert lena.steps[1]["eligible_at"] == tuesday_0900_berlin
    assert world.invites() == []

    assert world.advance(days=1) == {"sent": 1}
    assert [i["recipient_profile_url"] for i in world.invites()] == ["https://www.linkedin.com/in/lena"]
    lena = world.enrollment("Lena")
    assert lena.step_status(2) is StepStatus.SENT
    assert lena.status == "completed"
    assert world.advance(days=5) == {}
    assert world.smtp.messages == []
    assert sender(world, world.senders["email"]).status == "active"


def test_a_refused_login_pauses_that_sender_returns_the_step_and_the_other_sender_goes_on(world):
    world.smtp.require_auth("cal", "cal-secret")
    cal = add_email_sender(world, "Cal", daily_limit=100, username="cal", password="cal-secret")
    world.smtp.require_auth("bea", "bea-secret")  # Cal's login checked out when Cal was added; now it is refused
    bea = add_email_sender(world, "Bea", daily_limit=100, username="bea", password="bea-secret")
    world.launch(steps=ONE_EMAIL)
    send_email_from(world, bea, cal)
    ben, cleo = one_lead_each(world, bea, cal)
    world.import_leads({"first_name": "Ben", **ben}, {"first_name": "Cleo", **cleo})
    assert world.enrollment("Ben").senders["email"] == bea
    assert world.enrollment("Cleo").senders["email"] == cal

    assert world.advance(hours=1) == {"sent": 1, "sender_paused": 1}  # 09:00 in Berlin
    failed_at = world.clock.now()
    assert len(world.emails_to(ben["email"])) == 1
    assert world.emails_to(cleo["email"]) == []
    cal_account = sender(world, cal)
    assert cal_account.status == "paused"
    assert cal_account.paused_reason is not None and cal_account.paused_reason.startswith("login refused: 535")
    assert sender(world, bea).status == "active"
    cleo_enrollment = world.enrollment("Cleo")
    assert cleo_enrollment.step_status(1) is StepStatus.SCHEDULED
    assert cleo_enrollment.attempts_of(1) == 1
    assert cleo_enrollment.steps[0]["reason"] == f"sender: {cal_account.paused_reason}"
    assert [(r.enrollment_id, r.eligible_at) for r in due_rows(world)] == [(cleo_enrollment.id, failed_at)]

    assert world.advance(hours=1) == {}  # the paused sender sends nothing
    assert len(world.smtp.messages) == 1

    world.smtp.require_auth("cal", "cal-secret")  # the mail admin fixes Cal's mailbox
    set_sender_status(world.sv, world.workspace_id, cal, paused=False, reason="", actor=ACTOR)
    assert world.dispatch() == {"sent": 1}
    (to_cleo,) = world.emails_to(cleo["email"])
    assert to_cleo["From"].addresses[0].addr_spec == "cal@plera.example"
    assert world.enrollment("Cleo").step_status(1) is StepStatus.SENT
    assert sender(world, cal).status == "active" and sender(world, cal).paused_reason is None
    assert len(world.smtp.messages) == 2
    assert due_rows(world) == []


def test_a_linkedin_message_whose_answer_was_lost_is_retried_under_the_same_key_and_arrives_once(world):
    proxy = LossyProxy(world.sandbox.base_url).start()
    try:
        cmd = AddSenderAccount.model_validate(
            {
                "channel": "linkedin",
                "name": "Alex",
                "address": "https://www.linkedin.com/in/alex-via-proxy",
                "daily_limit": 100,
                "provider": {"base_url": proxy.base_url, "api_key": "k", "account_id": "alex-via-proxy"},
            }
        )
        via_proxy = add_sender_account(world.sv, world.workspace_id, cmd, ACTOR).id
        sequence_id = world.launch(
            steps=[
                {"channel": "linkedin_invite", "delay_days": 0, "condition": "always"},
                {"channel": "linkedin_message", "delay_days": 1, "condition": "no_reply"},
            ]
        )
        chosen = ChooseSenders(email=[world.senders["email"]], linkedin=[via_proxy])
        choose_senders(world.sv, world.workspace_id, sequence_id, chosen, ACTOR)
        world.import_leads({"first_name": "Lena", "linkedin_url": "linkedin.com/in/lena", "timezone": "Europe/Berlin"})
        assert world.advance(hours=1) == {"sent": 1}  # Monday 09:00 in Berlin: the invite
        accepted = world.sandbox.sandbox.accept(
            {"account_id": "alex-via-proxy", "profile_url": "https://www.linkedin.com/in/lena"}
        )
        world.catch_up()
        assert take_in(world.sv, world.workspace_id, LinkedInEvent.model_validate(accepted.body["event"])) == 1

        proxy.drop_next_answers(1)
        assert world.advance(days=1) == {"retry": 1}  # Tuesday 09:00: the provider took it; the answer was lost
        assert proxy.dropped == 1
        lena = world.enrollment("Lena")
        assert lena.steps[1]["reason"].startswith("no answer from the provider")
        first_key = lena.steps[1]["message_id"]
        assert [m["idempotency_key"] for m in world.sandbox.sandbox.state()["messages"]] == [first_key]

        assert world.advance(minutes=15) == {"sent": 1}
        # The retry names the same message, so the provider answers with the one it has: Lena gets one message.
        assert [m["idempotency_key"] for m in world.sandbox.sandbox.state()["messages"]] == [first_key]
        assert world.enrollment("Lena").step_status(2) is StepStatus.SENT
    finally:
        proxy.stop()
