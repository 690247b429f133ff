"""An enrollment's read-model row as a value: how events change it, and what it adds to its sequence's counts.

Pure: no SQL. The enrollments projection loads a row, asks this module for the next one, and
writes it back under the version guard; the sequence counts move by the difference of what
the two rows add up to.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

# A step's status as one letter of enrollments.step_states.
LETTERS = {
    "pending": "p",
    "scheduled": "q",  # queued
    "dispatching": "d",
    "sent": "s",
    "skipped": "k",
    "failed": "f",  # permanently
    "outcome_unknown": "u",
    "bounced": "b",  # hard
}
STATUSES = {letter: status for status, letter in LETTERS.items()}
NOT_DONE = "pqd"  # the letters of steps still to come, as LeadEnrollment.next_step reads them
OPEN = ("active", "paused")  # the enrollment statuses that may still send
DONE_COUNTED = ("sent", "failed", "outcome_unknown", "skipped", "bounced")  # step statuses the dashboard counts
TOTALS = 0  # the `step` of a sequence's totals in its counts

Counts = dict[tuple[int, str], int]  # (step, or TOTALS) and column name → how many


@dataclass(frozen=True)
class Row:
    """The columns of an enrollments row that events change."""

    status: str
    stop_reason: str | None
    step_states: str
    next_step: int | None
    next_send_at: datetime | None
    sent: int
    replied_at: datetime | None
    reply_step: int | None
    accepted_step: int | None = None  # the LinkedIn invite step the lead accepted

    @classmethod
    def enrolled(cls, steps: int) -> Row:
        return cls("active", None, LETTERS["pending"] * steps, 1 if steps else None, None, 0, None, None)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def with_step(self, step: int, status: str, eligible_at: datetime | None = None) -> Row:
        """The row once `step` has this status: next_step and next_send_at follow."""
        states = self.step_states[: step - 1] + LETTERS[status] + self.step_states[step:]
        next_step = first_not_done(states) if self.is_open else None
        if next_step is None:
            next_send_at = None
        elif status == "scheduled" and step == next_step:
            next_send_at = eligible_at
        elif next_step == self.next_step and states[next_step - 1] == LETTERS["scheduled"]:
            next_send_at = self.next_send_at  # another step changed; the next one is still scheduled
        else:
            next_send_at = None
        sent = self.sent + (status == "sent")
        return replace(self, step_states=states, next_step=next_step, next_send_at=next_send_at, sent=sent)

    def closed(self, status: str, stop_reason: str | None = None) -> Row:
        return replace(self, status=status, stop_reason=stop_reason, next_step=None, next_send_at=None)

    def replied(self, at: datetime) -> Row:
        """The first reply is credited to the last step sent before it: once per lead, never moved."""
        if self.replied_at is not None:
            return self
        sent = self.step_states.rfind(LETTERS["sent"])
        return replace(self, replied_at=at, reply_step=None if sent < 0 else sent + 1)

    def counts(self) -> Counts:
        return counts_of(
            self.status,
            self.next_step,
            self.replied_at is not None,
            self.reply_step,
            self.step_states,
            self.accepted_step,
        )


def first_not_done(states: str) -> int | None:
    return next((n for n, letter in enumerate(states, start=1) if letter in NOT_DONE), None)


def counts_of(
    status: str,
    next_step: int | None,
    replied: bool,
    reply_step: int | None,
    step_states: str,
    accepted_step: int | None = None,
) -> Counts:
    """What one enrollment adds to its sequence's dashboard (API.md):

    totals by status, enrolled and replied; leads_at_step at an active lead's next step;
    scheduled where an open lead's step waits in the due queue; sent, failed (permanently),
    outcome_unknown and skipped where a step ended so; replied at the step the reply is credited to.
    """
    counts: Counts = {(TOTALS, "enrolled"): 1, (TOTALS, status): 1}
    if replied:
        counts[(TOTALS, "replied")] = 1
    if status == "active" and next_step is not None:
        counts[(next_step, "leads_at_step")] = 1
    if reply_step is not None:
        counts[(reply_step, "replied")] = 1
    if accepted_step is not None:
        counts[(accepted_step, "accepted")] = 1
    for step, letter in enumerate(step_states, start=1):
        step_status = STATUSES[letter]
        if step_status == "scheduled" and status in OPEN:
            counts[(step, "scheduled")] = 1
        elif step_status in DONE_COUNTED:
            counts[(step, step_status)] = 1
    return counts


def difference(before: Row | None, after: Row) -> Counts:
    """after's counts minus before's, without the zeros."""
    old = before.counts() if before is not None else {}
    new = after.counts()
    changed = {key: new.get(key, 0) - old.get(key, 0) for key in old.keys() | new.keys()}
    return {key: delta for key, delta in changed.items() if delta}
