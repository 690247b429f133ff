"""What the fault tests count: every message the sink took, and each lead's steps in the event store."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from plera.aggregates.enrollment import LeadEnrollment, StepStatus
from plera.runtime import Services
from tests.fakes.smtp_server import FakeSmtp


@dataclass(frozen=True)
class Tally:
    received: int  # messages the SMTP sink took
    duplicates: int  # messages that came a second time for the same lead and step (by Message-ID or by step)
    statuses: Counter[str]  # every step of every lead, by status in the event store

    @property
    def lost(self) -> int:
        """Steps neither sent, nor skipped, nor shown as an unknown outcome: silently lost."""
        return sum(n for status, n in self.statuses.items() if status not in ("sent", "skipped", "outcome_unknown"))


def tally(sv: Services, smtp: FakeSmtp, sequence_id, lead_ids, steps: int) -> Tally:
    messages = smtp.messages
    ids = Counter(str(m.message["Message-ID"]) for m in messages)
    # A step resent under a new id would be a duplicate too: nobody gets more messages than there are steps.
    per_lead = Counter(tuple(m.rcpt_tos) for m in messages)
    duplicates = sum(n - 1 for n in ids.values() if n > 1) + sum(n - steps for n in per_lead.values() if n > steps)
    statuses: Counter[str] = Counter()
    for lead_id in lead_ids:
        enrollment = sv.events.get(LeadEnrollment.create_id(sequence_id, lead_id), LeadEnrollment)
        for step in range(1, steps + 1):
            status = enrollment.step_status(step)
            statuses[status.value if isinstance(status, StepStatus) else str(status)] += 1
    return Tally(len(messages), duplicates, statuses)
