"""The enrollment's rule for moving a lead off a sender that stopped: only its waiting next step moves,
only once that step has been due for the wait, and an email sender's change starts a new thread."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID, uuid4

import pytest
from tests.unit.test_enrollment import SEQUENCE, send

from plera.aggregates.enrollment import LeadEnrollment, StepStatus
from plera.aggregates.errors import EnrollmentClosed, InvalidValue, SenderFailoverNotDue, StepNotInState
from plera.aggregates.sequence_steps import checked_settings, sender_failover

OLD, NEW, PROFILE = uuid4(), uuid4(), uuid4()
EMAILS = [{"channel": "email", "delay_days": d, "condition": "no_reply"} for d in (0, 3, 2)]
DAY = timedelta(hours=24)


def enroll(at: datetime) -> LeadEnrollment:
    return LeadEnrollment.enroll(
        sequence_id=SEQUENCE,
        lead_id=uuid4(),
        workspace_id=uuid4(),
        steps=[*EMAILS, {"channel": "linkedin_message", "delay_days": 1, "condition": "no_reply"}],
        at=at,
        actor="ops",
        senders={"email": OLD, "linkedin": PROFILE},
    )


def move(enrollment: LeadEnrollment, step: int, at: datetime, *, to: UUID = NEW, wait: timedelta = DAY) -> None:
    enrollment.reassign_sender(step=step, to_sender_id=to, reason="the sender is paused", wait=wait, at=at, actor="w")


def test_a_due_step_moves_to_the_new_sender_once_it_has_waited_the_failover_time(at):
    enrollment = enroll(at)
    enrollment.schedule(step=1, eligible_at=at, sequence_running=True, at=at, actor="w")

    with pytest.raises(SenderFailoverNotDue):
        move(enrollment, 1, at + DAY - timedelta(seconds=1))
    move(enrollment, 1, at + DAY)

    (event,) = [e for e in enrollment.collect_events() if isinstance(e, LeadEnrollment.SenderReassigned)]
    assert (event.step, event.channel, event.from_sender_id, event.to_sender_id) == (1, "email", OLD, NEW)
    assert event.reason == "the sender is paused"
    assert enrollment.sender_of(1) == enrollment.sender_of(3) == NEW
    assert enrollment.sender_of(4) == PROFILE  # the LinkedIn sender stays
    assert enrollment.step_status(1) is StepStatus.SCHEDULED  # still waiting, for its new sender


def test_a_step_taken_out_of_the_sequences_senders_moves_without_waiting(at):
    enrollment = enroll(at)
    enrollment.schedule(step=1, eligible_at=at, sequence_running=True, at=at, actor="w")

    move(enrollment, 1, at, wait=timedelta(0))

    assert enrollment.sender_of(1) == NEW


def test_only_the_leads_waiting_next_step_moves_and_only_to_another_sender(at):
    enrollment = enroll(at)
    send(enrollment, 1, at)
    later = at + 3 * DAY
    enrollment.schedule(step=2, eligible_at=later, sequence_running=True, at=later, actor="w")

    with pytest.raises(StepNotInState):
        move(enrollment, 1, later + DAY)  # sent already
    with pytest.raises(StepNotInState):
        move(enrollment, 3, later + DAY)  # not the next step
    with pytest.raises(InvalidValue):
        move(enrollment, 2, later + DAY, to=OLD)
    enrollment.stop(reason="replied", at=later, actor="w")
    with pytest.raises(EnrollmentClosed):
        move(enrollment, 2, later + DAY)


def test_a_later_email_through_the_new_sender_starts_a_thread_of_its_own(at):
    enrollment = enroll(at)
    send(enrollment, 1, at)
    first = enrollment.first_email()
    assert first is not None and first[0] == 1
    later = at + 3 * DAY
    enrollment.schedule(step=2, eligible_at=later, sequence_running=True, at=later, actor="w")

    move(enrollment, 2, later + DAY)
    assert enrollment.first_email() is None  # step 2 opens the new thread: it replies to nothing

    enrollment.dispatch(step=2, message_id="<m2@plera>", sender_id=NEW, at=later + DAY, actor="w")
    enrollment.record_sent(step=2, at=later + DAY, actor="w")
    assert enrollment.first_email() == (2, "<m2@plera>")  # step 3 threads under it, not under step 1


def test_a_sequence_waits_24_hours_by_default_and_takes_0_to_720(at):
    defaults = checked_settings({"company_stop": "off", "daily_new_leads": None, "invite_without_note": False}, {})
    assert sender_failover(defaults) == DAY
    assert sender_failover(checked_settings(defaults, {"sender_failover_hours": 0})) == timedelta(0)
    for wrong in (-1, 721, 1.5, True):
        with pytest.raises(InvalidValue):
            checked_settings(defaults, {"sender_failover_hours": wrong})
