"""No lead is stranded on a sender that stopped (decision 0014).

A lead keeps one sender per channel, for threading. When that sender is paused (a failure, or a
person), is otherwise not active, or was taken out of the sequence's senders, the lead's due step
moves to another active sender of the sequence for that channel, the one the rendezvous hashing
picks among those that remain (`sender_assignment.assign`), so every worker picks the same:
- a stopped sender's step moves once it has been due for the sequence's `sender_failover_hours`
  (24 by default): a sender paused for a passing fault is often back within the day, and a lead's
  thread stays with its sender when it is;
- a sender a person took out of the sequence's senders loses its leads at once (the dispatcher's
  re-check finds them when their step is due): the change was deliberate.
The move is `SenderReassigned` on the enrollment, appended with the version check, so it happens
once however many workers try. The due queue then names the new sender, whose limits apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from plera.aggregates.channels import Channel
from plera.aggregates.enrollment import LeadEnrollment
from plera.aggregates.errors import DomainError
from plera.aggregates.sender_account import SenderAccount
from plera.aggregates.sender_assignment import assign
from plera.aggregates.sequence import Sequence
from plera.aggregates.sequence_steps import DEFAULT_SETTINGS, sender_failover
from plera.commands.changes import change
from plera.commands.enrollments import sender_candidates
from plera.runtime import Services

ACTOR = "worker"
TAKEN_OUT = "the sender was taken out of the sequence's senders"

# Due queue rows of running sequences, not claimed, waiting on a sender the catalog shows as not
# active, and due for longer than their sequence's wait: the candidates for a move, oldest first.
# Driven from the stopped senders (few) through the queue's sender index. The aggregates decide.
_STRANDED = """
SELECT d.enrollment_id, d.step, d.sequence_id, d.sender_id, d.channel FROM read.catalog a
JOIN read.due_queue d ON d.sender_id = a.id AND NOT d.paused
JOIN read.catalog s ON s.id = d.sequence_id AND s.status = 'active'
WHERE a.kind = 'sender_account' AND a.status <> 'active'
  AND (%(workspace)s::uuid IS NULL OR a.workspace_id = %(workspace)s)
  AND d.eligible_at <= %(now)s - make_interval(
        hours => coalesce((s.data->'settings'->>'sender_failover_hours')::int, %(hours)s))
  AND (d.lease_until IS NULL OR d.lease_until < clock_timestamp())
ORDER BY d.eligible_at, d.enrollment_id, d.step
LIMIT %(limit)s
"""


@dataclass(frozen=True)
class Move:
    to_sender_id: UUID
    reason: str
    wait: timedelta  # how long the step must have been due first


def available(account: Any) -> bool:
    """A sender that may send: active (not paused, unverified or removed)."""
    return isinstance(account, SenderAccount) and account.status == "active"


def unavailable_reason(account: Any) -> str:
    if not isinstance(account, SenderAccount) or account.status == "removed":
        return "the sender was removed"
    if account.status == "paused":
        return f"the sender is paused: {account.paused_reason}" if account.paused_reason else "the sender is paused"
    return f"the sender is {account.status}"


def move_for(
    enrollment: LeadEnrollment, step: int, sequence: Sequence, accounts: dict[UUID, Any], sv: Services
) -> Move | None:
    """Where the step goes when its sender can no longer send it, or None when it stays (its sender
    is fine, or no other active sender of the sequence remains for the channel)."""
    current = enrollment.sender_of(step)
    if current is None:
        return None
    family = Channel(enrollment.channel_of(step)).account_channel
    if current not in sequence.senders.get(family, []):
        reason, wait = TAKEN_OUT, timedelta(0)
    elif not available(accounts.get(current)):
        reason, wait = unavailable_reason(accounts.get(current)), sender_failover(sequence.settings)
    else:
        return None
    # The sequence's active senders but this one: rendezvous hashing keeps every worker's answer the same.
    remaining = [c for c in sender_candidates(sv, sequence).get(family, []) if c.sender_id != current]
    to = assign(enrollment.lead_id, remaining)
    return None if to is None else Move(to, reason, wait)


def reassign(sv: Services, enrollment_id: UUID, step: int, now: datetime) -> bool:
    """Moves the enrollment's waiting `step` to another sender when the rule says so; False when it
    stays (not due to move yet, nothing to move to, or another worker moved or sent it first)."""

    def moved(enrollment: LeadEnrollment) -> bool:
        sequence = sv.events.get(enrollment.sequence_id, Sequence)
        if not sequence.is_running:
            return False
        current = enrollment.sender_of(step) if enrollment.next_step == step else None
        accounts = sv.events.load_many([current] if current is not None else [])
        move = move_for(enrollment, step, sequence, accounts, sv)
        if move is None:
            return False
        try:
            enrollment.reassign_sender(
                step=step, to_sender_id=move.to_sender_id, reason=move.reason, wait=move.wait, at=now, actor=ACTOR
            )
        except DomainError:
            return False  # not waiting any more, or not due to move yet
        return True

    return change(sv, enrollment_id, moved)


def reassign_stranded(sv: Services, *, limit: int = 500, workspace_id: UUID | None = None) -> int:
    """Moves the due steps stranded on senders that are not active (of one workspace, or of all)
    once their wait is over; returns how many moved."""
    now = sv.clock.now()
    hours = DEFAULT_SETTINGS["sender_failover_hours"]
    with sv.db.pool.connection() as conn:
        rows = conn.execute(
            _STRANDED, {"now": now, "workspace": workspace_id, "hours": hours, "limit": limit}
        ).fetchall()
    others: dict[tuple[UUID, UUID], bool] = {}  # (sequence, stopped sender) → another active sender remains
    moved = 0
    for enrollment_id, step, sequence_id, sender_id, channel in rows:
        if (sequence_id, sender_id) not in others:
            family = Channel(channel).account_channel
            candidates = sender_candidates(sv, sv.events.get(sequence_id, Sequence)).get(family, [])
            others[(sequence_id, sender_id)] = any(c.sender_id != sender_id for c in candidates)
        if others[(sequence_id, sender_id)]:  # else the lead has nowhere to go: not worth loading
            moved += reassign(sv, enrollment_id, step, now)
    return moved
