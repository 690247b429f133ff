"""Dispatch: the send protocol for the steps a worker claimed (ARCHITECTURE.md, "The send protocol").

A pass takes its claims through the protocol together, so each phase costs the store one round
trip rather than one per step:
2. Re-check against the truth (`recheck.py`): the aggregates, loaded for the whole pass, and the
   suppression list.
3. Append every StepDispatching in one transaction with the version check: the moment of
   decision. A reply, pause or stop committed before it prevents the send (a concurrent
   ReplyDetected fails the version check). When any step of the pass meets a conflict, nothing of
   the transaction is kept: each step is loaded again, re-checked and decided alone.
4. Send through the channels (the outbox), the message id as idempotency key (and Message-ID).
5. Record the outcomes, again in one append (`send_outcomes.py`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from plera.aggregates.enrollment import LeadEnrollment
from plera.aggregates.errors import DomainError, NotFound
from plera.aggregates.sender_account import SenderAccount
from plera.channels.errors import SendFailed
from plera.commands.claims import LEASE, Claim, release_all
from plera.commands.failover import reassign
from plera.commands.outbound import OutboundMessage
from plera.commands.outbox import Outbox
from plera.commands.recheck import (
    CANCELLED,
    MOVE_SETTLES,
    Fail,
    Known,
    Ready,
    Reassign,
    Release,
    Skip,
    Verdict,
    recheck,
)
from plera.commands.send_outcomes import (
    ACTOR,
    Record,
    outcome_of,
    record_all,
    skipped,
    unbuildable,
)
from plera.runtime import Services

__all__ = ["decide_pass", "dispatch", "dispatch_all", "record_pass"]

log = logging.getLogger(__name__)

SEND_WITHIN = LEASE / 2  # no send of a pass starts later than this after its claim: well inside the lease


@dataclass(frozen=True)
class Decided:
    """A pass after its moment of decision: what each claim came to, in order."""

    verdicts: list[Verdict]
    not_after: float  # time.monotonic() after which none of its sends may start

    @property
    def ready(self) -> list[Ready]:
        return [v for v in self.verdicts if isinstance(v, Ready)]

    @property
    def messages(self) -> list[tuple[SenderAccount, OutboundMessage]]:
        return [(r.sender, r.message) for r in self.ready]


def dispatch(sv: Services, claim: Claim) -> str:
    """Runs the protocol for one claimed step; returns what happened (see dispatch_all)."""
    return dispatch_all(sv, [claim])[0]


def dispatch_all(sv: Services, claims: list[Claim], outbox: Outbox | None = None) -> list[str]:
    """Runs the protocol for a pass's claims; returns what happened to each, in order: sent, failed,
    retry, skipped, deferred, cancelled, sender_paused, moved (to another sender), returned (not tried in
    time), or unknown."""
    if outbox is None:
        with Outbox(sv) as own:
            return dispatch_all(sv, claims, own)
    decided = decide_pass(sv, claims)
    return record_pass(sv, decided, outbox.send_all(decided.messages, not_after=decided.not_after))


def decide_pass(sv: Services, claims: list[Claim]) -> Decided:
    """2 and 3: re-checks the claims and appends the decisions; gives back the claims that may not go now."""
    not_after = time.monotonic() + SEND_WITHIN.total_seconds()
    now = sv.clock.now()
    known = Known.load(sv, claims)
    verdicts = decide(sv, known, [recheck(sv, known, claim, now) for claim in claims], now)
    released = []
    for claim, verdict in zip(claims, verdicts, strict=True):
        if isinstance(verdict, Release):
            released.append((claim, verdict.refund, verdict.not_before))
        elif isinstance(verdict, Reassign):  # its queue row names the new sender once the move is projected
            reassign(sv, claim.enrollment_id, claim.step, now)
            released.append((claim, True, now + MOVE_SETTLES))
    release_all(sv, released)
    return Decided(verdicts, not_after)


def record_pass(sv: Services, decided: Decided, results: list[BaseException | None]) -> list[str]:
    """5. Records the outcomes of the pass's sends (`results`, in the order of `decided.messages`) and
    its skips; returns what happened to each claim."""
    sent = {id(r): result for r, result in zip(decided.ready, results, strict=True)}
    done = sv.clock.now()
    records: list[Record] = []
    names = []
    paused: set[UUID] = set()
    for verdict in decided.verdicts:
        if isinstance(verdict, Release):
            names.append(verdict.name)
        elif isinstance(verdict, Reassign):
            names.append("moved")
        elif isinstance(verdict, Skip):
            records.append(skipped(sv, verdict.where, verdict.reason))
            names.append("skipped")
        elif isinstance(verdict, Fail):
            records.append(unbuildable(sv, verdict.where, verdict.message_id, verdict.reason))
            names.append("failed")
        elif (result := sent[id(verdict)]) is None or isinstance(result, SendFailed):
            record = outcome_of(sv, verdict.where, verdict.sender.id, result, done, paused)
            records.append(record)
            names.append(record.name)
        else:
            w = verdict.where
            log.error("dispatch of %s step %s: %r", w.enrollment.id, w.claim.step, result, exc_info=result)
            names.append("unknown")  # stays dispatching: recovery records SendOutcomeUnknown after the lease
    record_all(sv, records)
    return names


def decide(sv: Services, known: Known, verdicts: list[Verdict], now: datetime) -> list[Verdict]:
    """3. Appends StepDispatching for every Ready verdict; what remains Ready is decided."""
    out = list(verdicts)
    appended: list[tuple[int, Ready]] = []
    for n, verdict in enumerate(out):
        if isinstance(verdict, Ready):
            try:
                _dispatching(verdict, now)
                appended.append((n, verdict))
            except DomainError:
                out[n] = CANCELLED
    if not appended:
        return out
    try:
        sv.events.save(*(ready.where.enrollment for _, ready in appended))
        return out
    except IntegrityError:
        pass  # one of them changed since the load: nothing was appended
    for n, ready in appended:
        claim = ready.where.claim
        try:
            known.enrollments[claim.enrollment_id] = sv.events.get(claim.enrollment_id, LeadEnrollment)
        except NotFound:
            known.enrollments.pop(claim.enrollment_id, None)
        again = recheck(sv, known, claim, now)
        if isinstance(again, Ready):
            try:
                _dispatching(again, now)
                sv.events.save(again.where.enrollment)
            except (IntegrityError, DomainError):
                again = CANCELLED  # something was committed first (a reply, a pause): no send
        out[n] = again
    return out


def _dispatching(ready: Ready, now: datetime) -> None:
    w = ready.where
    w.enrollment.dispatch(
        step=w.claim.step, message_id=ready.message.message_id, sender_id=ready.sender.id, at=now, actor=ACTOR
    )
