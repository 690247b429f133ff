"""LeadEnrollment: one lead's way through one sequence, step by step.

Its events are the record of what was sent, skipped or stopped. The send protocol's moment
of decision is StepDispatching: rules here refuse it after a reply, a pause or a stop.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID, uuid5

from plera.aggregates.base import PleraAggregate
from plera.aggregates.channels import Channel, Condition
from plera.aggregates.errors import (
    EnrollmentClosed,
    EnrollmentPausedError,
    InvalidValue,
    LeadHasReplied,
    SenderFailoverNotDue,
    SequenceNotActive,
    StepNotInState,
)
from plera.scheduling import policy


class StepStatus(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    DISPATCHING = "dispatching"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    OUTCOME_UNKNOWN = "outcome_unknown"
    BOUNCED = "bounced"


DONE = frozenset(
    {StepStatus.SENT, StepStatus.SKIPPED, StepStatus.FAILED, StepStatus.OUTCOME_UNKNOWN, StepStatus.BOUNCED}
)
OUTCOMES = ("replied", "meeting_booked", "not_interested")
MISSING_ADDRESS = {"email": "no email address", "linkedin": "no LinkedIn URL"}  # the skip's reason, by account channel


def missing_address(channel: str, reachable: Collection[str]) -> str | None:
    """Why a step on `channel` cannot reach a lead reachable on `reachable` (account channels: "email",
    "linkedin"), or None when it can."""
    family = Channel(channel).account_channel
    return None if family in reachable else MISSING_ADDRESS[family]


def message_id_for(enrollment_id: UUID, step: int, attempt: int) -> str:
    """The outbound message id, derived so that a retried decision names the same message.

    `attempt` counts the messages of the step that were returned undelivered (soft bounces): a
    send retried after a passing failure keeps its id (the provider's idempotency key, since the
    failure may have hidden a success), while one sent again after a bounce is a new message.
    """
    return f"<{uuid5(enrollment_id, f'step:{step}:attempt:{attempt}')}@plera>"


class LeadEnrollment(PleraAggregate):
    @staticmethod
    def create_id(sequence_id: UUID, lead_id: UUID) -> UUID:
        return uuid5(sequence_id, str(lead_id))  # a second enrollment collides in the store

    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["senders"] = {}
        state.setdefault("accepted_at", None)
        state.setdefault("away_until", None)
        state.setdefault("outcome", None)

    class LeadEnrolled(PleraAggregate.Created):
        """The plan the lead follows (the sequence's steps as they were), and its sender per channel."""

        class_version = 2
        sequence_id: UUID
        lead_id: UUID
        workspace_id: UUID
        steps: list[dict[str, Any]]
        senders: dict[str, UUID]  # "email" / "linkedin" → the sender account it keeps

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["senders"] = {}

    def __init__(
        self,
        sequence_id: UUID,
        lead_id: UUID,
        workspace_id: UUID,
        steps: list[dict[str, Any]],
        senders: dict[str, UUID],
    ) -> None:
        self.sequence_id = sequence_id
        self.lead_id = lead_id
        self.workspace_id = workspace_id
        self.plan = steps
        self.senders = dict(senders)
        self.steps: list[dict[str, Any]] = [
            {
                "status": StepStatus.PENDING.value,
                "eligible_at": None,
                "message_id": None,
                "sender_id": None,
                "attempts": 0,
                "reason": None,
            }
            for _ in steps
        ]
        self.status = "active"
        self.paused = False
        self.stop_reason: str | None = None
        self.replied_at: datetime | None = None
        self.accepted_at: datetime | None = None  # the LinkedIn invite
        self.away_until: datetime | None = None  # an out-of-office pause ends then
        self.outcome: str | None = None

    @classmethod
    def enroll(
        cls,
        *,
        sequence_id: UUID,
        lead_id: UUID,
        workspace_id: UUID,
        steps: list[dict[str, Any]],
        at: datetime,
        actor: str,
        senders: dict[str, UUID] | None = None,
    ) -> LeadEnrollment:
        """Enrolls a lead with the sequence's steps as they are now (the plan it will follow)."""
        if not steps:
            raise InvalidValue("a sequence without steps enrolls nobody")
        plan = [
            {"channel": s["channel"], "delay_days": s["delay_days"], "condition": s["condition"]}
            | ({"key": s["key"]} if s.get("key") else {})  # the step's message is the sequence's, by this key
            for s in steps
        ]
        return cls._record_created(
            cls.LeadEnrolled,
            id=cls.create_id(sequence_id, lead_id),
            at=at,
            actor=actor,
            sequence_id=sequence_id,
            lead_id=lead_id,
            workspace_id=workspace_id,
            steps=plan,
            senders=dict(senders or {}),
        )

    # ---- reading the state

    @property
    def is_open(self) -> bool:
        return self.status == "active"

    @property
    def next_step(self) -> int | None:
        """The first step not yet done (numbered from 1), or None when all are done."""
        for number, state in enumerate(self.steps, start=1):
            if StepStatus(state["status"]) not in DONE:
                return number
        return None

    def step_status(self, step: int) -> StepStatus:
        return StepStatus(self._state(step)["status"])

    def channel_of(self, step: int) -> str:
        return str(self._plan(step)["channel"])

    def condition_of(self, step: int) -> Condition:
        return Condition(self._plan(step)["condition"])

    def delay_of(self, step: int) -> int:
        return int(self._plan(step)["delay_days"])

    # ---- scheduling and sending

    class StepScheduled(PleraAggregate.Event):
        step: int
        eligible_at: datetime

        def apply(self, enrollment: LeadEnrollment) -> None:
            enrollment._state(self.step).update(status=StepStatus.SCHEDULED.value, eligible_at=self.eligible_at)

    def schedule(self, *, step: int, eligible_at: datetime, sequence_running: bool, at: datetime, actor: str) -> None:
        """Schedules the next step. Nothing is scheduled while the sequence or the lead is paused."""
        if not sequence_running:
            raise SequenceNotActive("nothing is scheduled while the sequence is not running")
        self._check_may_proceed(step)
        if self.step_status(step) is not StepStatus.PENDING:
            raise StepNotInState(f"step {step} is {self.step_status(step)}, not pending")
        self._record(self.StepScheduled, at=at, actor=actor, step=step, eligible_at=eligible_at)

    def schedule_next(
        self,
        *,
        rules: policy.SendingRules,
        zone: str,
        reachable: Collection[str],
        sequence_running: bool,
        at: datetime,
        actor: str,
    ) -> bool:
        """Schedules the lead's next step if it waits, and completes the lead when none is left. False
        when it must wait (the sequence or the lead is paused, or the lead is closed).

        Step 1 is eligible at once; a later one at the window start `delay_days` after the previous step
        went out or was skipped (`zone` is the recipient's). A step on a channel the lead has no address
        on (`reachable`: "email", "linkedin") is skipped right here: it never waits in the queue nor
        takes a place in a sender's day, and the step after it counts its delay from the day the
        skipped step would have gone out, so the lead's other steps keep their days.
        """
        if not self.is_open:
            return False
        while (step := self.next_step) is not None:
            if self.paused or not sequence_running or self.step_status(step) is not StepStatus.PENDING:
                return False
            previous = self.last_done_at(step)
            if step == 1 or previous is None:
                eligible = at
            else:
                eligible = policy.later_step_eligible(rules, zone, previous, self.delay_of(step))
            missing = missing_address(self.channel_of(step), reachable)
            if missing is None:
                self.schedule(step=step, eligible_at=eligible, sequence_running=True, at=at, actor=actor)
                return True
            self.skip(step=step, reason=missing, at=at, actor=actor, counts_from=eligible)
        return self.complete_if_done(at=at, actor=actor)

    class StepDispatching(PleraAggregate.Event):
        step: int
        message_id: str
        sender_id: UUID

        def apply(self, enrollment: LeadEnrollment) -> None:
            state = enrollment._state(self.step)
            state.update(status=StepStatus.DISPATCHING.value, message_id=self.message_id, sender_id=self.sender_id)

    def dispatch(self, *, step: int, message_id: str, sender_id: UUID, at: datetime, actor: str) -> None:
        """The moment of decision: after this, the message may be handed to its channel."""
        self._check_may_proceed(step)
        if self.step_status(step) is not StepStatus.SCHEDULED:
            raise StepNotInState(f"step {step} is {self.step_status(step)}, not scheduled")
        self._record(self.StepDispatching, at=at, actor=actor, step=step, message_id=message_id, sender_id=sender_id)

    class MessageSent(PleraAggregate.Event):
        step: int
        message_id: str
        channel: str

        def apply(self, enrollment: LeadEnrollment) -> None:
            enrollment._state(self.step).update(status=StepStatus.SENT.value, done_at=self.timestamp.isoformat())

    def record_sent(self, *, step: int, at: datetime, actor: str) -> None:
        state = self._dispatching(step)
        self._record(
            self.MessageSent,
            at=at,
            actor=actor,
            step=step,
            message_id=state["message_id"],
            channel=self.channel_of(step),
        )

    class StepSendFailed(PleraAggregate.Event):
        step: int
        message_id: str
        retryable: bool
        reason: str

        def apply(self, enrollment: LeadEnrollment) -> None:
            state = enrollment._state(self.step)
            state["attempts"] += 1
            state["reason"] = self.reason
            state["status"] = (StepStatus.PENDING if self.retryable else StepStatus.FAILED).value
            if not self.retryable:  # done: the next step counts its delay from here
                state["done_at"] = self.timestamp.isoformat()

    def record_failed(self, *, step: int, retryable: bool, reason: str, at: datetime, actor: str) -> None:
        """A retryable failure returns the step to pending, to be scheduled again; a permanent one ends it."""
        state = self._dispatching(step)
        self._record(
            self.StepSendFailed,
            at=at,
            actor=actor,
            step=step,
            message_id=state["message_id"],
            retryable=retryable,
            reason=reason,
        )
        if retryable and self.replied_at is not None and self.condition_of(step) is Condition.NO_REPLY:
            # A reply came in while this send was in flight: there is nothing left to retry.
            self._record(self.StepSkipped, at=at, actor=actor, step=step, reason="replied")

    def record_unbuildable(self, *, step: int, message_id: str, reason: str, at: datetime, actor: str) -> None:
        """The step's message cannot be made for this lead (its text does not render, or a header
        cannot be written): it fails for good before its dispatch, so nothing is handed to a channel."""
        self._check_may_proceed(step)
        if self.step_status(step) is not StepStatus.SCHEDULED:
            raise StepNotInState(f"step {step} is {self.step_status(step)}, not scheduled")
        self._record(
            self.StepSendFailed, at=at, actor=actor, step=step, message_id=message_id, retryable=False, reason=reason
        )

    class SendOutcomeUnknown(PleraAggregate.Event):
        step: int
        message_id: str

        def apply(self, enrollment: LeadEnrollment) -> None:
            enrollment._state(self.step).update(
                status=StepStatus.OUTCOME_UNKNOWN.value, done_at=self.timestamp.isoformat()
            )

    def record_outcome_unknown(self, *, step: int, at: datetime, actor: str) -> None:
        """A dispatch whose lease ran out: never resent, since a duplicate is worse than a gap."""
        state = self._dispatching(step)
        self._record(self.SendOutcomeUnknown, at=at, actor=actor, step=step, message_id=state["message_id"])

    class StepSkipped(PleraAggregate.Event):
        step: int
        reason: str
        # When a step is skipped ahead of its day (a lead with no address for its channel), the steps
        # after it still count their delay from that day, so the sequence keeps the days people set.
        counts_from: datetime | None = None

        def apply(self, enrollment: LeadEnrollment) -> None:
            done_at = self.counts_from or self.timestamp
            enrollment._state(self.step).update(
                status=StepStatus.SKIPPED.value, reason=self.reason, done_at=done_at.isoformat()
            )

    def skip(self, *, step: int, reason: str, at: datetime, actor: str, counts_from: datetime | None = None) -> None:
        if self.step_status(step) not in (StepStatus.PENDING, StepStatus.SCHEDULED):
            raise StepNotInState(f"step {step} is {self.step_status(step)}: only a waiting step can be skipped")
        later = counts_from if counts_from is not None and counts_from > at else None
        self._record(self.StepSkipped, at=at, actor=actor, step=step, reason=reason, counts_from=later)

    class InviteAccepted(PleraAggregate.Event):
        """The lead accepted the LinkedIn invite of `step`: LinkedIn message steps may go out from now on."""

        step: int

        def apply(self, enrollment: LeadEnrollment) -> None:
            enrollment.accepted_at = self.timestamp

    def record_invite_accepted(self, *, at: datetime, actor: str) -> bool:
        """False when it was known already (a repeated webhook) or no invite of this sequence went out."""
        invites = [
            n
            for n, state in enumerate(self.steps, start=1)
            if self.channel_of(n) == "linkedin_invite"
            and state["status"] in (StepStatus.SENT, StepStatus.OUTCOME_UNKNOWN)
        ]
        if self.accepted_at is not None or not invites:
            return False
        self._record(self.InviteAccepted, at=at, actor=actor, step=invites[0])
        return True

    def waits_for_acceptance(self, step: int) -> bool:
        """A LinkedIn message after an invite of this sequence goes out only once the invite is accepted."""
        if self.channel_of(step) != "linkedin_message" or self.accepted_at is not None:
            return False
        return any(self.channel_of(n) == "linkedin_invite" for n in range(1, step))

    def invite_sent_at(self) -> datetime | None:
        """When the lead's invite went out (or was skipped), for the acceptance timeout."""
        for number, state in enumerate(self.steps, start=1):
            if self.channel_of(number) == "linkedin_invite" and state.get("done_at") is not None:
                return datetime.fromisoformat(state["done_at"])
        return None

    def last_done_at(self, before_step: int) -> datetime | None:
        """When the step before `before_step` went out or was skipped: later steps count their delay from it."""
        for number in range(before_step - 1, 0, -1):
            done = self.steps[number - 1].get("done_at")
            if done is not None:
                return datetime.fromisoformat(done)
        return None

    def first_email(self) -> tuple[int, str] | None:
        """The step and message id of the first email of the lead's current thread that went out: later
        emails thread under it. A move to another email sender starts a new thread (SenderReassigned)."""
        first: tuple[int, str] | None = None
        for number, state in enumerate(self.steps, start=1):
            if state.get("new_thread"):
                first = None
            if first is None and self.channel_of(number) == "email" and state["status"] == StepStatus.SENT.value:
                first = number, str(state["message_id"])
        return first

    def attempts_of(self, step: int) -> int:
        return int(self._state(step)["attempts"])

    def message_attempt(self, step: int) -> int:
        """Which message of the step a send is (see message_id_for): a new one only after a bounce."""
        return int(self._state(step).get("bounces", 0))

    def skip_channel(self, *, channel_family: str, reason: str, at: datetime, actor: str) -> None:
        """Skips every waiting step on the channel ("email" or "linkedin"): the recipient cannot be reached on it."""
        for number, state in enumerate(self.steps, start=1):
            family = "email" if self.channel_of(number) == "email" else "linkedin"
            if family == channel_family and StepStatus(state["status"]) in (StepStatus.PENDING, StepStatus.SCHEDULED):
                self._record(self.StepSkipped, at=at, actor=actor, step=number, reason=reason)

    # ---- a sender that stopped: the lead moves to another

    def sender_of(self, step: int) -> UUID | None:
        """The sender account the lead keeps for the step's channel (email, or linkedin)."""
        return self.senders.get(Channel(self.channel_of(step)).account_channel)

    class SenderReassigned(PleraAggregate.Event):
        """The lead's sender for a channel ("email" or "linkedin") changed, from `step` on: its sender
        stopped (paused, removed) or was taken out of the sequence's senders. An email sender's change
        starts a new thread: the next email carries its own subject, in reply to nothing before it."""

        step: int
        channel: str
        from_sender_id: UUID | None
        to_sender_id: UUID
        reason: str

        def apply(self, enrollment: LeadEnrollment) -> None:
            enrollment.senders[self.channel] = self.to_sender_id
            if self.channel == "email":
                enrollment._state(self.step)["new_thread"] = True

    def reassign_sender(
        self, *, step: int, to_sender_id: UUID, reason: str, wait: timedelta, at: datetime, actor: str
    ) -> None:
        """Moves the waiting `step` (and the lead's later steps on its channel) to another sender, once
        the step has been due for `wait` (the sequence's sender_failover_hours; none for a sender a
        person took out of the sequence). Recorded once: a second worker's move fails the version check."""
        self._check_open()
        if step != self.next_step or self.step_status(step) not in (StepStatus.PENDING, StepStatus.SCHEDULED):
            raise StepNotInState(f"step {step} is not waiting: only the lead's waiting next step moves")
        current = self.sender_of(step)
        if to_sender_id == current:
            raise InvalidValue("the step is already the new sender's")
        eligible = self._state(step)["eligible_at"]
        if wait and (eligible is None or at < eligible + wait):
            raise SenderFailoverNotDue(f"step {step} moves to another sender only once it has been due for {wait}")
        self._record(
            self.SenderReassigned,
            at=at,
            actor=actor,
            step=step,
            channel=Channel(self.channel_of(step)).account_channel,
            from_sender_id=current,
            to_sender_id=to_sender_id,
            reason=reason,
        )

    # ---- what came back: auto-replies, bounces, outcomes

    class OutOfOfficeDetected(PleraAggregate.Event):
        """An auto-reply: not a reply. The lead pauses until `until`, then goes on."""

        until: datetime
        message_ref: str | None

        def apply(self, enrollment: LeadEnrollment) -> None:
            enrollment.paused = True
            enrollment.away_until = self.until

    def record_out_of_office(self, *, until: datetime, message_ref: str | None, at: datetime, actor: str) -> bool:
        if not self.is_open:
            return False
        self._record(self.OutOfOfficeDetected, at=at, actor=actor, until=until, message_ref=message_ref)
        return True

    def back_from_away(self, *, at: datetime, actor: str) -> bool:
        """Ends an out-of-office pause that is over (a manual pause stays)."""
        if not (self.is_open and self.paused and self.away_until is not None and self.away_until <= at):
            return False
        self._record(self.EnrollmentResumed, at=at, actor=actor)
        return True

    class MessageBounced(PleraAggregate.Event):
        """A hard bounce ends the step (and the lead's email); a soft one returns it for another attempt."""

        step: int
        message_id: str
        hard: bool
        reason: str

        def apply(self, enrollment: LeadEnrollment) -> None:
            state = enrollment._state(self.step)
            state["attempts"] += 1
            state["reason"] = self.reason
            state["bounces"] = state.get("bounces", 0) + 1
            if self.hard:
                state.update(status=StepStatus.BOUNCED.value, done_at=self.timestamp.isoformat())
            else:
                state["status"] = StepStatus.PENDING.value

    def record_bounce(self, *, message_id: str, hard: bool, reason: str, at: datetime, actor: str) -> int | None:
        """The step the bounced message was; None when it is not ours or was settled already."""
        for number, state in enumerate(self.steps, start=1):
            if state["message_id"] == message_id and state["status"] == StepStatus.SENT.value:
                self._record(
                    self.MessageBounced,
                    at=at,
                    actor=actor,
                    step=number,
                    message_id=message_id,
                    hard=hard,
                    reason=reason,
                )
                return number
        return None

    class OutcomeRecorded(PleraAggregate.Event):
        """A person recorded what happened outside the channels (a phone call, a missed reply)."""

        outcome: str

        def apply(self, enrollment: LeadEnrollment) -> None:
            enrollment.outcome = self.outcome

    def record_outcome(self, *, outcome: str, at: datetime, actor: str) -> None:
        """replied, meeting_booked and not_interested stop the lead like a reply, and count as one.

        The same outcome again changes nothing. Another one corrects the label alone: the first
        outcome (or reply) already recorded the reply and stopped the lead."""
        if outcome not in OUTCOMES:
            raise InvalidValue(f"outcome is one of {', '.join(OUTCOMES)}")
        if self.outcome == outcome:
            return
        self._record(self.OutcomeRecorded, at=at, actor=actor, outcome=outcome)
        self.record_reply(channel="manual", message_ref=None, at=at, actor=actor, stop_reason=outcome)
        if self.is_open:
            self._record(self.EnrollmentStopped, at=at, actor=actor, reason=outcome)

    # ---- replies and lifecycle

    class ReplyDetected(PleraAggregate.Event):
        channel: str
        message_ref: str | None

        def apply(self, enrollment: LeadEnrollment) -> None:
            if enrollment.replied_at is None:
                enrollment.replied_at = self.timestamp

    def record_reply(
        self, *, channel: str, message_ref: str | None, at: datetime, actor: str, stop_reason: str = "replied"
    ) -> bool:
        """Records the person's first reply and at once skips every remaining no_reply step; `always`
        steps remain. A completed or stopped enrollment records it too (a reply to the last step
        counts), with nothing to stop. A later reply adds no ReplyDetected: the first one is the one
        credited, and what it stops is stopped (the lead's MessageReceived keeps the later message).
        True when this was the first reply."""
        first = self.replied_at is None
        if first:
            self._record(self.ReplyDetected, at=at, actor=actor, channel=channel, message_ref=message_ref)
        if not self.is_open:
            return first
        # Also after an earlier reply: an older history may have left a no_reply step waiting.
        for number, state in enumerate(self.steps, start=1):
            waiting = StepStatus(state["status"]) in (StepStatus.PENDING, StepStatus.SCHEDULED)
            if waiting and self.condition_of(number) is Condition.NO_REPLY:
                self._record(self.StepSkipped, at=at, actor=actor, step=number, reason="replied")
        if self.is_open and self.next_step is None:
            self._record(self.EnrollmentStopped, at=at, actor=actor, reason=stop_reason)
        return first

    class EnrollmentPaused(PleraAggregate.Event):
        reason: str

        def apply(self, enrollment: LeadEnrollment) -> None:
            enrollment.paused = True

    def pause(self, *, reason: str, at: datetime, actor: str) -> None:
        self._check_open()
        if not self.paused:
            self._record(self.EnrollmentPaused, at=at, actor=actor, reason=reason)

    class EnrollmentResumed(PleraAggregate.Event):
        def apply(self, enrollment: LeadEnrollment) -> None:
            enrollment.paused = False
            enrollment.away_until = None

    def resume(self, *, at: datetime, actor: str) -> None:
        self._check_open()
        if self.paused:
            self._record(self.EnrollmentResumed, at=at, actor=actor)

    class EnrollmentStopped(PleraAggregate.Event):
        reason: str

        def apply(self, enrollment: LeadEnrollment) -> None:
            enrollment.status = "stopped"
            enrollment.stop_reason = self.reason

    def stop(self, *, reason: str, at: datetime, actor: str) -> None:
        if self.is_open:
            self._record(self.EnrollmentStopped, at=at, actor=actor, reason=reason)

    class EnrollmentCompleted(PleraAggregate.Event):
        def apply(self, enrollment: LeadEnrollment) -> None:
            enrollment.status = "completed"

    def complete_if_done(self, *, at: datetime, actor: str) -> bool:
        if self.is_open and self.next_step is None:
            self._record(self.EnrollmentCompleted, at=at, actor=actor)
            return True
        return False

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "sequence_id": str(self.sequence_id),
            "lead_id": str(self.lead_id),
            "status": self.status,
            "paused": self.paused,
            "stop_reason": self.stop_reason,
            "replied_at": self.replied_at.isoformat() if self.replied_at else None,
            "next_step": self.next_step,
            "version": self.version,
            "steps": [
                {
                    "step": n,
                    "channel": plan["channel"],
                    "condition": plan["condition"],
                    "status": state["status"],
                    "eligible_at": state["eligible_at"].isoformat() if state["eligible_at"] else None,
                    "message_id": state["message_id"],
                    "reason": state["reason"],
                }
                for n, (plan, state) in enumerate(zip(self.plan, self.steps, strict=True), start=1)
            ],
        }

    # ---- rules

    def _plan(self, step: int) -> dict[str, Any]:
        if not 1 <= step <= len(self.plan):
            raise InvalidValue(f"there is no step {step}")
        return self.plan[step - 1]

    def _state(self, step: int) -> dict[str, Any]:
        self._plan(step)
        return self.steps[step - 1]

    def _check_open(self) -> None:
        if not self.is_open:
            raise EnrollmentClosed(f"the enrollment is {self.status}")

    def _check_may_proceed(self, step: int) -> None:
        self._check_open()
        if self.paused:
            raise EnrollmentPausedError("the lead is paused")
        if step != self.next_step:
            raise StepNotInState(f"step {step} is not the lead's next step ({self.next_step})")
        if self.replied_at is not None and self.condition_of(step) is Condition.NO_REPLY:
            raise LeadHasReplied(f"the lead has replied: no_reply step {step} may not go out")

    def _dispatching(self, step: int) -> dict[str, Any]:
        state = self._state(step)
        if StepStatus(state["status"]) is not StepStatus.DISPATCHING:
            raise StepNotInState(f"step {step} is {state['status']}, not dispatching")
        return state
