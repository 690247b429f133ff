"""Dispatch: the send protocol for one claimed step (ARCHITECTURE.md, "The send protocol").

2. Re-check against the truth (the aggregates, not the read model): the step still waits, no
   reply for a no_reply step, the lead, sequence and sender are active, the window is open.
3. Append StepDispatching with the version check: the moment of decision. A reply, pause or
   stop committed before it prevents the send (a concurrent ReplyDetected fails the version check).
4. Send through the channel, the message id as idempotency key (and as the email's Message-ID).
5. Record the outcome: MessageSent and the next step scheduled; or StepSendFailed. A recipient's
   permanent failure ends that lead's channel; a passing one is retried with backoff, up to a
   limit; a sender's failure pauses the sender and returns the step to the queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from plera.aggregates.enrollment import LeadEnrollment, StepStatus, message_id_for
from plera.aggregates.errors import DomainError
from plera.aggregates.lead import Lead
from plera.aggregates.sender_account import SenderAccount
from plera.aggregates.sequence import Sequence
from plera.aggregates.workspace import Workspace
from plera.channels.email import SendFailed
from plera.commands.claims import Claim, finish, release
from plera.commands.next_step import rules_of, schedule_next, zone_of
from plera.commands.outbound import OutboundMessage, Unrenderable, send_step
from plera.commands.suppressions import suppression_for
from plera.runtime import Services
from plera.scheduling import policy

log = logging.getLogger(__name__)

ACTOR = "worker"
MAX_ATTEMPTS = 4  # a passing failure is retried this many times in all
BACKOFF = (timedelta(minutes=15), timedelta(hours=1), timedelta(hours=4))
ACCEPT_TIMEOUT = timedelta(days=14)  # a LinkedIn message waits this long for its invite's acceptance


def dispatch(sv: Services, claim: Claim) -> str:
    """Runs the protocol for a claimed step; returns what happened (sent, failed, retry, skipped,
    deferred, cancelled, sender_paused)."""
    now = sv.clock.now()
    enrollment = sv.events.get(claim.enrollment_id, LeadEnrollment)
    sequence = sv.events.get(enrollment.sequence_id, Sequence)
    lead = sv.events.get(enrollment.lead_id, Lead)
    rules = rules_of(sv.events.get(enrollment.workspace_id, Workspace))
    zone = zone_of(lead, rules).zone
    step = claim.step

    # 2. Re-check.
    if not _still_waiting(enrollment, step) or not sequence.is_running:
        release(sv, claim, refund=True)
        return "cancelled"
    if not policy.is_open(rules, zone, now):
        release(sv, claim, refund=True, not_before=policy.next_opening(rules, zone, now))
        return "deferred"
    sender = sv.events.get(claim.sender_id, SenderAccount) if claim.sender_id else None
    if sender is not None and sender.status != "active":
        release(sv, claim, refund=True)
        return "cancelled"
    skip = _reason_to_skip(sv, enrollment, lead, sender, sequence, step, now)
    if skip == "wait":
        deadline = (enrollment.invite_sent_at() or now) + ACCEPT_TIMEOUT
        release(sv, claim, refund=True, not_before=deadline)
        return "deferred"
    if skip is not None:
        return _skipped(sv, claim, enrollment, sequence, rules, zone, skip)
    assert sender is not None

    message_id = message_id_for(enrollment.id, step, enrollment.message_attempt(step))
    try:  # rendered before the decision: nothing but the append may stand between the re-check and it
        message = OutboundMessage.for_step(sv, sequence, enrollment, lead, sender, step, message_id, now)
    except Unrenderable as e:
        return _skipped(sv, claim, enrollment, sequence, rules, zone, str(e))

    # 3. The moment of decision.
    try:
        enrollment.dispatch(step=step, message_id=message_id, sender_id=sender.id, at=now, actor=ACTOR)
        sv.events.save(enrollment)
    except (IntegrityError, DomainError):
        release(sv, claim, refund=True)  # something was committed first (a reply, a pause): no send
        return "cancelled"

    # 4. Send.
    try:
        send_step(sv, sender, message)
    except SendFailed as failure:
        return _failed(sv, claim, enrollment, sequence, sender, rules, zone, failure)
    except Exception as error:  # noqa: BLE001 - an unknown error: we cannot know whether it went out
        log.exception("dispatch of %s step %s: %s", enrollment.id, step, error)
        return "unknown"  # stays dispatching; recovery records SendOutcomeUnknown after the lease

    # 5. Outcome.
    def sent(e: LeadEnrollment) -> None:
        done = sv.clock.now()
        e.record_sent(step=step, at=done, actor=ACTOR)
        schedule_next(e, sequence, rules, zone, at=done, actor=ACTOR)

    return _record(sv, claim, enrollment, sent, "sent", refund=False)


def _still_waiting(enrollment: LeadEnrollment, step: int) -> bool:
    if not enrollment.is_open or enrollment.paused or enrollment.next_step != step:
        return False
    if enrollment.step_status(step) is not StepStatus.SCHEDULED:
        return False
    return not (enrollment.replied_at is not None and enrollment.condition_of(step).value == "no_reply")


def _reason_to_skip(
    sv: Services,
    enrollment: LeadEnrollment,
    lead: Lead,
    sender: SenderAccount | None,
    sequence: Sequence,
    step: int,
    now: datetime,
) -> str | None:
    """Why the step cannot go out to this lead at all (it is skipped), "wait" for an invite's
    acceptance, or None when it may go."""
    channel = enrollment.channel_of(step)
    if sender is None:
        return "no sender account for this channel"
    if channel == "email" and not lead.details.get("email"):
        return "no email address"
    if channel != "email" and not lead.details.get("linkedin_url"):
        return "no LinkedIn URL"
    suppressed = suppression_for(
        sv,
        lead.workspace_id,
        email=lead.details.get("email") if channel == "email" else None,
        linkedin_url=lead.details.get("linkedin_url") if channel != "email" else None,
    )
    if suppressed is not None:
        return f"suppressed: {suppressed['skip_reason']}"
    if sequence.approved_text(step, lead.id) is None:
        return "no approved message"
    if enrollment.waits_for_acceptance(step):
        sent = enrollment.invite_sent_at()
        if sent is not None and now < sent + ACCEPT_TIMEOUT:
            return "wait"
        return "the LinkedIn invite was not accepted in time"
    return None


def _failed(
    sv: Services,
    claim: Claim,
    enrollment: LeadEnrollment,
    sequence: Sequence,
    sender: SenderAccount,
    rules: policy.SendingRules,
    zone: str,
    failure: SendFailed,
) -> str:
    now = sv.clock.now()
    step = claim.step
    family = "email" if enrollment.channel_of(step) == "email" else "linkedin"
    if failure.fault == "sender":
        # Not this lead's fault: the sender stops, and the step waits in the queue for it.
        _pause_sender(sv, sender.id, failure.reason, now)

        def returned(e: LeadEnrollment) -> None:
            e.record_failed(step=step, retryable=True, reason=f"sender: {failure.reason}", at=now, actor=ACTOR)
            _reschedule(e, sequence, step, now, now)

        return _record(sv, claim, enrollment, returned, "sender_paused", refund=True)
    attempts = enrollment.attempts_of(step) + 1
    if failure.fault == "transient" and attempts < MAX_ATTEMPTS:

        def retried(e: LeadEnrollment) -> None:
            e.record_failed(step=step, retryable=True, reason=failure.reason, at=now, actor=ACTOR)
            _reschedule(e, sequence, step, now, now + BACKOFF[min(attempts, len(BACKOFF)) - 1])

        return _record(sv, claim, enrollment, retried, "retry", refund=True)
    reason = failure.reason if failure.fault == "recipient" else f"gave up after {attempts} attempts: {failure.reason}"

    def failed(e: LeadEnrollment) -> None:
        e.record_failed(step=step, retryable=False, reason=reason, at=now, actor=ACTOR)
        e.skip_channel(channel_family=family, reason=f"{family} unreachable: {reason}", at=now, actor=ACTOR)
        schedule_next(e, sequence, rules, zone, at=now, actor=ACTOR)

    return _record(sv, claim, enrollment, failed, "failed", refund=False)


def _pause_sender(sv: Services, sender_id: UUID, reason: str, at: datetime) -> None:
    for _ in range(3):  # another worker may pause it at the same moment
        sender = sv.events.get(sender_id, SenderAccount)
        sender.pause(reason=reason, at=at, actor=ACTOR)
        try:
            sv.events.save(sender)
            return
        except IntegrityError:
            continue


def _reschedule(enrollment: LeadEnrollment, sequence: Sequence, step: int, now: datetime, eligible: datetime) -> None:
    """A returned step waits again (a paused lead or sequence schedules it when it resumes)."""
    waiting = enrollment.step_status(step) is StepStatus.PENDING and enrollment.is_open and not enrollment.paused
    if waiting and sequence.is_running and enrollment.next_step == step:
        enrollment.schedule(step=step, eligible_at=eligible, sequence_running=True, at=now, actor=ACTOR)


def _record(
    sv: Services,
    claim: Claim,
    enrollment: LeadEnrollment,
    outcome: Callable[[LeadEnrollment], None],
    name: str,
    *,
    refund: bool,
) -> str:
    """Appends the outcome. Events committed since the decision (a reply, a pause) do not lose it: the
    enrollment is loaded again and the outcome applied to what it is now."""
    for attempt in range(5):
        if attempt:
            enrollment = sv.events.get(claim.enrollment_id, LeadEnrollment)
        outcome(enrollment)
        try:
            sv.events.save(enrollment)
            break
        except IntegrityError:
            continue
    else:
        raise RuntimeError(f"could not record the outcome of {claim.enrollment_id} step {claim.step}")
    with sv.db.pool.connection() as conn, conn.transaction():
        finish(conn, claim, refund=refund)
    return name


def _skipped(
    sv: Services,
    claim: Claim,
    enrollment: LeadEnrollment,
    sequence: Sequence,
    rules: policy.SendingRules,
    zone: str,
    reason: str,
) -> str:
    def skipped(e: LeadEnrollment) -> None:
        now = sv.clock.now()
        if _still_waiting(e, claim.step):
            e.skip(step=claim.step, reason=reason, at=now, actor=ACTOR)
            schedule_next(e, sequence, rules, zone, at=now, actor=ACTOR)

    return _record(sv, claim, enrollment, skipped, "skipped", refund=True)
