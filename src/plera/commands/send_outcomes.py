"""What a dispatch pass records (the send protocol's step 5): MessageSent and the next step
scheduled; or StepSendFailed. A recipient's permanent failure ends that lead's channel; a passing
one is retried after 15 min, 1 h and 4 h, four attempts in all; a sender's failure pauses the
sender and returns the step to the queue. A skipped step (suppressed, nothing to send) goes on too.

A pass's outcomes go in one append. When an enrollment changed since it was loaded (a reply, a
pause), nothing of that append is kept: each enrollment is loaded again and its outcome applied to
what it is now, so nothing committed meanwhile is lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from plera.aggregates.enrollment import LeadEnrollment, StepStatus
from plera.aggregates.errors import DomainError
from plera.aggregates.sender_account import SenderAccount
from plera.aggregates.sequence import Sequence
from plera.channels.errors import SendFailed
from plera.commands.changes import change
from plera.commands.claims import Claim, finish_all
from plera.commands.next_step import schedule_next
from plera.commands.outbox import NotAttempted
from plera.commands.recheck import Where, still_waiting
from plera.runtime import Services

log = logging.getLogger(__name__)

ACTOR = "worker"
MAX_ATTEMPTS = 4  # a passing failure is retried this many times in all
BACKOFF = (timedelta(minutes=15), timedelta(hours=1), timedelta(hours=4))


@dataclass(frozen=True)
class Record:
    """An outcome to append to a claim's enrollment, and how the claim ends (`refund`: its capacity returns)."""

    claim: Claim
    enrollment: LeadEnrollment
    apply: Callable[[LeadEnrollment], None]
    name: str
    refund: bool


def skipped(sv: Services, where: Where, reason: str) -> Record:
    step = where.claim.step

    def skip(e: LeadEnrollment) -> None:
        now = sv.clock.now()
        if still_waiting(e, step):
            e.skip(step=step, reason=reason, at=now, actor=ACTOR)
            schedule_next(e, where.sequence, where.rules, where.lead, at=now, actor=ACTOR)

    return Record(where.claim, where.enrollment, skip, "skipped", refund=True)


def unbuildable(sv: Services, where: Where, message_id: str, reason: str) -> Record:
    """A message that cannot be made for the lead fails its step for good; the next step comes on,
    whose message may well be made (a failed render is the message's fault, not the address's)."""
    step = where.claim.step

    def fail(e: LeadEnrollment) -> None:
        now = sv.clock.now()
        if still_waiting(e, step):
            e.record_unbuildable(step=step, message_id=message_id, reason=reason, at=now, actor=ACTOR)
            schedule_next(e, where.sequence, where.rules, where.lead, at=now, actor=ACTOR)

    return Record(where.claim, where.enrollment, fail, "failed", refund=True)


def outcome_of(
    sv: Services, where: Where, sender_id: UUID, failure: SendFailed | None, at: datetime, paused: set[UUID]
) -> Record:
    """The outcome of a decided step's send (`failure` None: it went out). A sender's failure pauses
    the sender, once a pass (`paused` holds the senders paused so far)."""
    step, sequence = where.claim.step, where.sequence

    def record(name: str, refund: bool, outcome: Callable[[LeadEnrollment], None]) -> Record:
        def apply(e: LeadEnrollment) -> None:
            if e.step_status(step) is StepStatus.DISPATCHING:  # else recovery settled it meanwhile
                outcome(e)

        return Record(where.claim, where.enrollment, apply, name, refund)

    if failure is None:

        def sent(e: LeadEnrollment) -> None:
            e.record_sent(step=step, at=at, actor=ACTOR)
            schedule_next(e, sequence, where.rules, where.lead, at=at, actor=ACTOR)

        return record("sent", False, sent)
    if failure.fault == "sender" or isinstance(failure, NotAttempted):
        reason = failure.reason
        if failure.fault == "sender":  # not this lead's fault: the sender stops, the step waits for it
            if sender_id not in paused:
                paused.add(sender_id)
                pause_sender(sv, sender_id, failure.reason, at)
            reason = f"sender: {failure.reason}"

        def returned(e: LeadEnrollment) -> None:
            e.record_failed(step=step, retryable=True, reason=reason, at=at, actor=ACTOR)
            _reschedule(e, sequence, step, at, at)

        return record("sender_paused" if failure.fault == "sender" else "returned", True, returned)
    attempts = where.enrollment.attempts_of(step) + 1
    if failure.fault == "transient" and attempts < MAX_ATTEMPTS:

        def retried(e: LeadEnrollment) -> None:
            e.record_failed(step=step, retryable=True, reason=failure.reason, at=at, actor=ACTOR)
            _reschedule(e, sequence, step, at, at + BACKOFF[min(attempts, len(BACKOFF)) - 1])

        return record("retry", True, retried)
    reason = failure.reason if failure.fault == "recipient" else f"gave up after {attempts} attempts: {failure.reason}"
    family = "email" if where.enrollment.channel_of(step) == "email" else "linkedin"

    def failed(e: LeadEnrollment) -> None:
        e.record_failed(step=step, retryable=False, reason=reason, at=at, actor=ACTOR)
        e.skip_channel(channel_family=family, reason=f"{family} unreachable: {reason}", at=at, actor=ACTOR)
        schedule_next(e, sequence, where.rules, where.lead, at=at, actor=ACTOR)

    return record("failed", False, failed)


def record_all(sv: Services, records: list[Record]) -> None:
    """Appends the outcomes in one transaction (each alone after a conflict), then ends their claims."""
    if not records:
        return
    try:
        for r in records:
            r.apply(r.enrollment)
        sv.events.save(*(r.enrollment for r in records))
        ended = records
    except (IntegrityError, DomainError):
        ended = [r for r in records if _record_alone(sv, r)]
    finish_all(sv, [(r.claim, r.refund) for r in ended])


def _record_alone(sv: Services, r: Record) -> bool:
    def recorded(enrollment: LeadEnrollment) -> bool:
        try:
            r.apply(enrollment)
        except DomainError:
            log.exception("outcome %s of %s step %s", r.name, r.claim.enrollment_id, r.claim.step)
            return False  # the claim stays: recovery settles it after the lease
        return True

    return change(sv, r.claim.enrollment_id, recorded)


def pause_sender(sv: Services, sender_id: UUID, reason: str, at: datetime) -> None:
    def paused(sender: SenderAccount) -> bool:  # another worker may pause it at the same moment
        sender.pause(reason=reason, at=at, actor=ACTOR)
        return True

    change(sv, sender_id, paused, SenderAccount)


def _reschedule(enrollment: LeadEnrollment, sequence: Sequence, step: int, now: datetime, eligible: datetime) -> None:
    """A returned step waits again (a paused lead or sequence schedules it when it resumes)."""
    waiting = enrollment.step_status(step) is StepStatus.PENDING and enrollment.is_open and not enrollment.paused
    if waiting and sequence.is_running and enrollment.next_step == step:
        enrollment.schedule(step=step, eligible_at=eligible, sequence_running=True, at=now, actor=ACTOR)
