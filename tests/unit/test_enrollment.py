from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast
from uuid import UUID, uuid4, uuid5

import pytest

from plera.aggregates.base import PleraAggregate
from plera.aggregates.enrollment import LeadEnrollment, StepStatus, message_id_for, missing_address
from plera.aggregates.errors import (
    EnrollmentClosed,
    EnrollmentPausedError,
    InvalidValue,
    LeadHasReplied,
    SequenceNotActive,
    StepNotInState,
)
from plera.scheduling.policy import SendingRules

SEQUENCE = uuid4()
SENDER = uuid4()
RULES = SendingRules(timezone="UTC")  # 09:00–17:00, Monday to Friday


def plan(*conditions: str) -> list[dict[str, object]]:
    channels = ["linkedin_invite", "email", "linkedin_message", "email"]
    return [
        {"name": f"step {n}", "channel": channels[(n - 1) % 4], "delay_days": 0 if n == 1 else 2, "condition": c}
        for n, c in enumerate(conditions, start=1)
    ]


def enroll(at: datetime, *conditions: str, lead_id: UUID | None = None) -> LeadEnrollment:
    return LeadEnrollment.enroll(
        sequence_id=SEQUENCE,
        lead_id=lead_id or uuid4(),
        workspace_id=uuid4(),
        steps=plan(*(conditions or ("always", "no_reply", "no_reply"))),
        at=at,
        actor="ops",
    )


def schedule(enrollment: LeadEnrollment, step: int, at: datetime) -> None:
    enrollment.schedule(step=step, eligible_at=at, sequence_running=True, at=at, actor="worker")


def dispatch(enrollment: LeadEnrollment, step: int, at: datetime) -> str:
    attempt = enrollment.steps[step - 1]["attempts"]
    message_id = message_id_for(enrollment.id, step, attempt)
    enrollment.dispatch(step=step, message_id=message_id, sender_id=SENDER, at=at, actor="worker")
    return message_id


def send(enrollment: LeadEnrollment, step: int, at: datetime) -> None:
    schedule(enrollment, step, at)
    dispatch(enrollment, step, at)
    enrollment.record_sent(step=step, at=at, actor="worker")


def statuses(enrollment: LeadEnrollment) -> list[str]:
    return [s["status"] for s in enrollment.steps]


# ---- identity and enrolment


def test_an_enrollment_id_is_derived_from_the_sequence_and_the_lead(at):
    lead_id = uuid4()

    enrollment = enroll(at, lead_id=lead_id)

    assert enrollment.id == uuid5(SEQUENCE, str(lead_id))
    assert enrollment.id == LeadEnrollment.create_id(SEQUENCE, lead_id)
    assert enroll(at, lead_id=lead_id).id == enrollment.id


def test_an_enrollment_keeps_the_plan_of_the_steps_it_was_enrolled_with(at):
    enrollment = enroll(at, "always", "no_reply")

    assert enrollment.plan == [
        {"channel": "linkedin_invite", "delay_days": 0, "condition": "always"},
        {"channel": "email", "delay_days": 2, "condition": "no_reply"},
    ]
    assert statuses(enrollment) == ["pending", "pending"]
    assert enrollment.next_step == 1
    assert enrollment.is_open
    assert enrollment.channel_of(2) == "email"
    assert enrollment.delay_of(2) == 2


def test_a_sequence_without_steps_enrolls_nobody(at):
    with pytest.raises(InvalidValue):
        LeadEnrollment.enroll(sequence_id=SEQUENCE, lead_id=uuid4(), workspace_id=uuid4(), steps=[], at=at, actor="x")


def test_a_step_outside_the_plan_is_refused(at):
    enrollment = enroll(at, "always")

    with pytest.raises(InvalidValue):
        enrollment.step_status(2)
    with pytest.raises(InvalidValue):
        enrollment.skip(step=0, reason="x", at=at, actor="worker")
    with pytest.raises(StepNotInState):
        schedule(enrollment, 2, at)


# ---- scheduling and sending


def test_nothing_is_scheduled_while_the_sequence_is_not_running(at):
    enrollment = enroll(at)

    with pytest.raises(SequenceNotActive):
        enrollment.schedule(step=1, eligible_at=at, sequence_running=False, at=at, actor="worker")
    assert enrollment.step_status(1) is StepStatus.PENDING


def test_nothing_is_scheduled_while_the_lead_is_paused(at):
    enrollment = enroll(at)
    enrollment.pause(reason="asked by sales", at=at, actor="ops")

    with pytest.raises(EnrollmentPausedError):
        schedule(enrollment, 1, at)


def test_only_the_next_step_can_be_scheduled(at):
    enrollment = enroll(at)

    with pytest.raises(StepNotInState):
        schedule(enrollment, 2, at)

    send(enrollment, 1, at)
    with pytest.raises(StepNotInState):
        schedule(enrollment, 1, at)
    with pytest.raises(StepNotInState):
        schedule(enrollment, 3, at)
    schedule(enrollment, 2, at)
    assert enrollment.next_step == 2


def test_a_scheduled_step_cannot_be_scheduled_again(at):
    enrollment = enroll(at)
    schedule(enrollment, 1, at)

    with pytest.raises(StepNotInState):
        schedule(enrollment, 1, at)


def test_scheduling_records_when_the_step_becomes_eligible(at):
    enrollment = enroll(at)
    eligible = at + timedelta(days=3)

    enrollment.schedule(step=1, eligible_at=eligible, sequence_running=True, at=at, actor="worker")

    assert enrollment.step_status(1) is StepStatus.SCHEDULED
    assert enrollment.steps[0]["eligible_at"] == eligible
    assert enrollment.as_dict()["steps"][0]["eligible_at"] == eligible.isoformat()


def test_a_step_is_dispatched_only_once_scheduled(at):
    enrollment = enroll(at)

    with pytest.raises(StepNotInState):
        dispatch(enrollment, 1, at)

    schedule(enrollment, 1, at)
    message_id = dispatch(enrollment, 1, at)
    assert enrollment.step_status(1) is StepStatus.DISPATCHING
    assert enrollment.steps[0]["message_id"] == message_id
    assert enrollment.steps[0]["sender_id"] == SENDER
    with pytest.raises(StepNotInState):
        dispatch(enrollment, 1, at)


def test_a_paused_lead_is_not_dispatched(at):
    enrollment = enroll(at)
    schedule(enrollment, 1, at)
    enrollment.pause(reason="asked by sales", at=at, actor="ops")

    with pytest.raises(EnrollmentPausedError):
        dispatch(enrollment, 1, at)


def test_a_message_is_recorded_sent_only_after_its_dispatch(at):
    enrollment = enroll(at)
    with pytest.raises(StepNotInState):
        enrollment.record_sent(step=1, at=at, actor="worker")
    schedule(enrollment, 1, at)
    with pytest.raises(StepNotInState):
        enrollment.record_sent(step=1, at=at, actor="worker")

    message_id = dispatch(enrollment, 1, at)
    enrollment.record_sent(step=1, at=at, actor="worker")

    sent = enrollment.collect_events()[-1]
    assert isinstance(sent, LeadEnrollment.MessageSent)
    assert (sent.step, sent.message_id, sent.channel) == (1, message_id, "linkedin_invite")
    assert enrollment.step_status(1) is StepStatus.SENT
    assert enrollment.next_step == 2
    with pytest.raises(StepNotInState):
        enrollment.record_sent(step=1, at=at, actor="worker")


def test_a_retryable_failure_returns_the_step_to_pending_with_one_more_attempt(at):
    enrollment = enroll(at)
    schedule(enrollment, 1, at)
    first = dispatch(enrollment, 1, at)

    enrollment.record_failed(step=1, retryable=True, reason="smtp 421", at=at, actor="worker")

    assert enrollment.step_status(1) is StepStatus.PENDING
    assert enrollment.steps[0]["attempts"] == 1
    assert enrollment.steps[0]["reason"] == "smtp 421"
    assert enrollment.next_step == 1
    schedule(enrollment, 1, at)
    second = dispatch(enrollment, 1, at)
    assert second != first


def test_a_permanent_failure_ends_the_step_and_moves_on(at):
    enrollment = enroll(at)
    schedule(enrollment, 1, at)
    message_id = dispatch(enrollment, 1, at)

    enrollment.record_failed(step=1, retryable=False, reason="550 user unknown", at=at, actor="worker")

    failed = enrollment.collect_events()[-1]
    assert isinstance(failed, LeadEnrollment.StepSendFailed)
    assert (failed.message_id, failed.retryable) == (message_id, False)
    assert enrollment.step_status(1) is StepStatus.FAILED
    assert enrollment.steps[0]["attempts"] == 1
    assert enrollment.next_step == 2


def test_a_failure_is_recorded_only_for_a_dispatching_step(at):
    enrollment = enroll(at)
    schedule(enrollment, 1, at)

    with pytest.raises(StepNotInState):
        enrollment.record_failed(step=1, retryable=True, reason="x", at=at, actor="worker")


def test_an_unknown_outcome_is_recorded_only_for_a_dispatching_step_and_is_never_resent(at):
    enrollment = enroll(at)
    with pytest.raises(StepNotInState):
        enrollment.record_outcome_unknown(step=1, at=at, actor="worker")
    schedule(enrollment, 1, at)
    with pytest.raises(StepNotInState):
        enrollment.record_outcome_unknown(step=1, at=at, actor="worker")
    message_id = dispatch(enrollment, 1, at)

    enrollment.record_outcome_unknown(step=1, at=at, actor="worker")

    unknown = enrollment.collect_events()[-1]
    assert isinstance(unknown, LeadEnrollment.SendOutcomeUnknown)
    assert unknown.message_id == message_id
    assert enrollment.step_status(1) is StepStatus.OUTCOME_UNKNOWN
    assert enrollment.next_step == 2
    with pytest.raises(StepNotInState):
        enrollment.record_sent(step=1, at=at, actor="worker")


def test_only_a_waiting_step_can_be_skipped(at):
    enrollment = enroll(at)
    schedule(enrollment, 1, at)
    enrollment.skip(step=1, reason="invite not accepted", at=at, actor="worker")
    enrollment.skip(step=2, reason="no address", at=at, actor="worker")

    assert statuses(enrollment)[:2] == ["skipped", "skipped"]
    assert enrollment.steps[0]["reason"] == "invite not accepted"
    assert enrollment.next_step == 3
    with pytest.raises(StepNotInState):
        enrollment.skip(step=1, reason="again", at=at, actor="worker")


# ---- scheduling the next step: a step the lead has no address for takes no place


def schedule_next(enrollment: LeadEnrollment, at: datetime, reachable: set[str], running: bool = True) -> bool:
    return enrollment.schedule_next(
        rules=RULES, zone="UTC", reachable=frozenset(reachable), sequence_running=running, at=at, actor="worker"
    )


def skips(enrollment: LeadEnrollment) -> list[tuple[int, str, datetime]]:
    return [
        (e.step, e.reason, e.timestamp)
        for e in enrollment.collect_events()
        if isinstance(e, LeadEnrollment.StepSkipped)
    ]


def test_a_missing_address_is_the_reason_for_the_channel_it_lacks():
    assert missing_address("email", {"linkedin"}) == "no email address"
    assert missing_address("linkedin_invite", {"email"}) == "no LinkedIn URL"
    assert missing_address("linkedin_message", {"email"}) == "no LinkedIn URL"
    assert missing_address("email", {"email"}) is None
    assert missing_address("linkedin_message", {"linkedin", "email"}) is None


def test_a_lead_with_every_address_gets_its_first_step_eligible_at_once_and_later_ones_after_their_delay(at):
    enrollment = enroll(at)  # LinkedIn invite, email two days later, LinkedIn message two days after that

    assert schedule_next(enrollment, at, {"email", "linkedin"}) is True
    assert enrollment.steps[0]["eligible_at"] == at
    dispatch(enrollment, 1, at)
    enrollment.record_sent(step=1, at=at, actor="worker")

    assert schedule_next(enrollment, at, {"email", "linkedin"}) is True
    assert enrollment.step_status(2) is StepStatus.SCHEDULED
    assert enrollment.steps[1]["eligible_at"] == at + timedelta(days=2)  # Wednesday 09:00
    assert skips(enrollment) == []


def test_a_step_the_lead_has_no_address_for_is_skipped_when_it_comes_up_and_the_next_keeps_its_day(at):
    enrollment = enroll(at)  # LinkedIn invite, email (+2 days), LinkedIn message (+2 days)
    schedule_next(enrollment, at, {"linkedin"})
    dispatch(enrollment, 1, at)
    sent_at = at + timedelta(hours=1)  # Monday 10:00
    enrollment.record_sent(step=1, at=sent_at, actor="worker")

    assert schedule_next(enrollment, sent_at, {"linkedin"}) is True

    assert skips(enrollment) == [(2, "no email address", sent_at)]  # at once: never scheduled, never queued
    assert enrollment.step_status(3) is StepStatus.SCHEDULED
    # Step 2 would have gone out on Wednesday: step 3 counts its two days from there, as it would have.
    assert enrollment.steps[2]["eligible_at"] == at + timedelta(days=4)  # Friday 09:00


def test_a_first_step_the_lead_has_no_address_for_is_skipped_at_entry(at):
    enrollment = enroll(at, "always", "no_reply")  # LinkedIn invite, then email two days later

    assert schedule_next(enrollment, at, {"email"}) is True

    assert skips(enrollment) == [(1, "no LinkedIn URL", at)]
    assert enrollment.next_step == 2
    assert enrollment.steps[1]["eligible_at"] == at + timedelta(days=2)


def test_steps_in_a_row_without_an_address_are_all_skipped_and_the_next_keeps_its_day(at):
    steps = [
        {"channel": "email", "delay_days": 0, "condition": "always"},
        {"channel": "email", "delay_days": 3, "condition": "no_reply"},
        {"channel": "linkedin_invite", "delay_days": 2, "condition": "no_reply"},
    ]
    enrollment = LeadEnrollment.enroll(
        sequence_id=SEQUENCE, lead_id=uuid4(), workspace_id=uuid4(), steps=steps, at=at, actor="ops"
    )

    assert schedule_next(enrollment, at, {"linkedin"}) is True

    assert skips(enrollment) == [(1, "no email address", at), (2, "no email address", at)]
    # Day 0, day 3 (Thursday), then two days on: Saturday, so the next sending day, Monday.
    assert enrollment.steps[2]["eligible_at"] == at + timedelta(days=7)


def test_a_lead_whose_last_step_it_cannot_be_reached_on_is_skipped_completes(at):
    enrollment = enroll(at, "always", "no_reply", "no_reply", "no_reply")  # invite, email, message, email
    schedule_next(enrollment, at, {"linkedin"})
    dispatch(enrollment, 1, at)
    enrollment.record_sent(step=1, at=at, actor="worker")
    schedule_next(enrollment, at, {"linkedin"})
    dispatch(enrollment, 3, at)
    enrollment.record_sent(step=3, at=at, actor="worker")

    assert schedule_next(enrollment, at, {"linkedin"}) is True

    assert statuses(enrollment) == ["sent", "skipped", "sent", "skipped"]
    assert enrollment.status == "completed"


def test_nothing_is_skipped_for_a_missing_address_while_the_lead_or_the_sequence_waits(at):
    enrollment = enroll(at)
    assert schedule_next(enrollment, at, {"email"}, running=False) is False
    enrollment.pause(reason="manual", at=at, actor="ops")
    assert schedule_next(enrollment, at, {"email"}) is False
    assert statuses(enrollment)[0] == "pending"
    assert skips(enrollment) == []

    enrollment.resume(at=at, actor="ops")
    assert schedule_next(enrollment, at, {"email"}) is True
    assert [s[:2] for s in skips(enrollment)] == [(1, "no LinkedIn URL")]


# ---- replies


def test_a_reply_skips_the_remaining_no_reply_steps_but_keeps_the_always_steps(at):
    enrollment = enroll(at, "always", "no_reply", "always", "no_reply")
    send(enrollment, 1, at)
    schedule(enrollment, 2, at)
    replied = at + timedelta(days=1)

    enrollment.record_reply(channel="email", message_ref="<abc@mail>", at=replied, actor="webhook")

    assert statuses(enrollment) == ["sent", "skipped", "pending", "skipped"]
    assert enrollment.steps[1]["reason"] == "replied"
    assert enrollment.replied_at == replied
    assert enrollment.is_open
    assert enrollment.next_step == 3
    schedule(enrollment, 3, replied)


def test_a_reply_stops_the_enrollment_when_nothing_remains(at):
    enrollment = enroll(at, "always", "no_reply", "no_reply")
    send(enrollment, 1, at)

    enrollment.record_reply(channel="linkedin", message_ref=None, at=at, actor="webhook")

    kinds = [type(e) for e in enrollment.collect_events()][-4:]
    assert kinds == [
        LeadEnrollment.ReplyDetected,
        LeadEnrollment.StepSkipped,
        LeadEnrollment.StepSkipped,
        LeadEnrollment.EnrollmentStopped,
    ]
    assert enrollment.status == "stopped"
    assert enrollment.stop_reason == "replied"
    assert enrollment.next_step is None
    assert not enrollment.is_open


def test_a_later_reply_keeps_the_time_of_the_first_and_records_nothing(at):
    enrollment = enroll(at, "always", "always")

    assert enrollment.record_reply(channel="email", message_ref=None, at=at, actor="webhook") is True
    enrollment.collect_events()
    assert (
        enrollment.record_reply(channel="email", message_ref=None, at=at + timedelta(hours=5), actor="webhook") is False
    )

    assert enrollment.replied_at == at
    assert enrollment.collect_events() == []


def test_a_reply_after_the_last_step_is_recorded_and_the_enrollment_stays_completed(at):
    enrollment = enroll(at, "always", "no_reply")
    send(enrollment, 1, at)
    send(enrollment, 2, at)
    assert enrollment.complete_if_done(at=at, actor="worker")
    enrollment.collect_events()

    enrollment.record_reply(channel="email", message_ref="<r@mail>", at=at, actor="webhook")

    assert [type(e) for e in enrollment.collect_events()] == [LeadEnrollment.ReplyDetected]
    assert (enrollment.status, enrollment.replied_at) == ("completed", at)


def test_a_later_reply_still_skips_a_no_reply_step_an_older_history_left_waiting(at):
    enrollment = enroll(at, "always", "no_reply")
    send(enrollment, 1, at)
    enrollment._record(LeadEnrollment.ReplyDetected, at=at, actor="webhook", channel="email", message_ref=None)
    enrollment.collect_events()

    enrollment.record_reply(channel="email", message_ref=None, at=at, actor="webhook")

    kinds = [type(e) for e in enrollment.collect_events()]
    assert kinds == [LeadEnrollment.StepSkipped, LeadEnrollment.EnrollmentStopped]


def test_the_same_outcome_again_records_nothing_and_another_one_only_its_label(at):
    enrollment = enroll(at, "always", "no_reply")
    send(enrollment, 1, at)
    enrollment.record_outcome(outcome="replied", at=at, actor="ops")
    assert (enrollment.status, enrollment.stop_reason) == ("stopped", "replied")
    enrollment.collect_events()

    for _ in range(3):
        enrollment.record_outcome(outcome="replied", at=at, actor="ops")
    assert enrollment.collect_events() == []

    enrollment.record_outcome(outcome="meeting_booked", at=at, actor="ops")
    assert [type(e) for e in enrollment.collect_events()] == [LeadEnrollment.OutcomeRecorded]
    assert (enrollment.outcome, enrollment.status, enrollment.stop_reason) == ("meeting_booked", "stopped", "replied")


def test_a_reply_does_not_touch_a_step_already_handed_to_its_channel(at):
    enrollment = enroll(at, "always", "no_reply", "no_reply")
    send(enrollment, 1, at)
    schedule(enrollment, 2, at)
    dispatch(enrollment, 2, at)

    enrollment.record_reply(channel="email", message_ref=None, at=at, actor="webhook")

    assert statuses(enrollment) == ["sent", "dispatching", "skipped"]
    assert enrollment.is_open
    enrollment.record_sent(step=2, at=at, actor="worker")
    assert enrollment.complete_if_done(at=at, actor="worker") is True


def test_a_retryable_failure_after_a_reply_skips_the_no_reply_step_instead_of_retrying_it(at):
    enrollment = enroll(at, "always", "no_reply", "always")
    send(enrollment, 1, at)
    schedule(enrollment, 2, at)
    dispatch(enrollment, 2, at)
    enrollment.record_reply(channel="email", message_ref=None, at=at, actor="webhook")
    # the send in flight failed after the reply: there is nothing left to retry
    enrollment.record_failed(step=2, retryable=True, reason="smtp 421", at=at, actor="worker")

    assert enrollment.step_status(2) is StepStatus.SKIPPED
    with pytest.raises(StepNotInState):
        schedule(enrollment, 2, at)
    assert enrollment.next_step == 3
    schedule(enrollment, 3, at)  # the always step still goes out
    assert enrollment.step_status(3) is StepStatus.SCHEDULED


# ---- pause, stop, complete


def test_pausing_and_resuming_a_lead_twice_records_each_change_once(at):
    enrollment = enroll(at)
    enrollment.collect_events()

    enrollment.pause(reason="asked by sales", at=at, actor="ops")
    enrollment.pause(reason="again", at=at, actor="ops")
    assert enrollment.paused
    enrollment.resume(at=at, actor="ops")
    enrollment.resume(at=at, actor="ops")
    assert not enrollment.paused

    kinds = [type(e) for e in enrollment.collect_events()]
    assert kinds == [LeadEnrollment.EnrollmentPaused, LeadEnrollment.EnrollmentResumed]
    schedule(enrollment, 1, at)


def test_a_stop_is_final(at):
    enrollment = enroll(at)
    enrollment.stop(reason="unsubscribed", at=at, actor="webhook")
    enrollment.stop(reason="again", at=at, actor="webhook")

    assert enrollment.status == "stopped"
    assert enrollment.stop_reason == "unsubscribed"
    with pytest.raises(EnrollmentClosed):
        enrollment.pause(reason="x", at=at, actor="ops")
    with pytest.raises(EnrollmentClosed):
        enrollment.resume(at=at, actor="ops")
    with pytest.raises(EnrollmentClosed):
        schedule(enrollment, 1, at)
    assert enrollment.complete_if_done(at=at, actor="worker") is False
    stops = [e for e in enrollment.collect_events() if isinstance(e, LeadEnrollment.EnrollmentStopped)]
    assert len(stops) == 1


def test_an_enrollment_completes_only_when_every_step_is_done(at):
    enrollment = enroll(at, "always", "always")
    send(enrollment, 1, at)
    assert enrollment.complete_if_done(at=at, actor="worker") is False

    schedule(enrollment, 2, at)
    dispatch(enrollment, 2, at)
    enrollment.record_failed(step=2, retryable=False, reason="550", at=at, actor="worker")

    assert enrollment.complete_if_done(at=at, actor="worker") is True
    assert enrollment.status == "completed"
    assert enrollment.complete_if_done(at=at, actor="worker") is False
    with pytest.raises(EnrollmentClosed):
        enrollment.pause(reason="x", at=at, actor="ops")


# ---- the record


def test_every_event_is_stamped_with_the_given_time_and_actor(at):
    times = [at + timedelta(minutes=n) for n in range(8)]
    enrollment = LeadEnrollment.enroll(
        sequence_id=SEQUENCE,
        lead_id=uuid4(),
        workspace_id=uuid4(),
        steps=plan("always", "no_reply"),
        at=times[0],
        actor="ops",
    )
    enrollment.pause(reason="x", at=times[1], actor="ops")
    enrollment.resume(at=times[2], actor="ops")
    enrollment.schedule(step=1, eligible_at=times[3], sequence_running=True, at=times[3], actor="worker")
    enrollment.dispatch(step=1, message_id="<m@plera>", sender_id=SENDER, at=times[4], actor="worker")
    enrollment.record_sent(step=1, at=times[5], actor="worker")
    enrollment.record_reply(channel="email", message_ref=None, at=times[6], actor="webhook")

    events = cast(list[PleraAggregate.Event], enrollment.collect_events())

    assert [(e.timestamp, e.actor) for e in events] == [
        (times[0], "ops"),
        (times[1], "ops"),
        (times[2], "ops"),
        (times[3], "worker"),
        (times[4], "worker"),
        (times[5], "worker"),
        (times[6], "webhook"),  # ReplyDetected
        (times[6], "webhook"),  # StepSkipped
        (times[6], "webhook"),  # EnrollmentStopped
    ]
    assert enrollment.created_on == times[0]
    assert enrollment.modified_on == times[6]


def test_a_message_id_is_the_same_for_the_same_enrollment_step_and_attempt():
    enrollment_id = uuid4()

    assert message_id_for(enrollment_id, 2, 0) == message_id_for(enrollment_id, 2, 0)
    assert message_id_for(enrollment_id, 2, 0) == f"<{uuid5(enrollment_id, 'step:2:attempt:0')}@plera>"
    others = {message_id_for(enrollment_id, 2, 1), message_id_for(enrollment_id, 3, 0), message_id_for(uuid4(), 2, 0)}
    assert message_id_for(enrollment_id, 2, 0) not in others
    assert len(others) == 3


def test_an_enrollment_shows_each_step_with_its_plan_and_state(at):
    enrollment = enroll(at, "always", "no_reply")
    send(enrollment, 1, at)

    shown = enrollment.as_dict()

    assert shown["next_step"] == 2
    assert shown["steps"][0]["status"] == "sent"
    assert shown["steps"][1] == {
        "step": 2,
        "channel": "email",
        "condition": "no_reply",
        "status": "pending",
        "eligible_at": None,
        "message_id": None,
        "reason": None,
    }


def test_a_no_reply_step_left_waiting_by_an_older_history_still_cannot_go_out_after_a_reply(at):
    enrollment = enroll(at, "always", "no_reply")
    send(enrollment, 1, at)
    # an older history recorded the reply without skipping the waiting steps
    enrollment._record(LeadEnrollment.ReplyDetected, at=at, actor="webhook", channel="email", message_ref=None)

    with pytest.raises(LeadHasReplied):
        schedule(enrollment, 2, at)
