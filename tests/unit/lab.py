"""The Messaging Lab's part of getting a sequence launched, for domain tests about what comes after."""

from __future__ import annotations

from datetime import datetime

from plera.aggregates.sequence import Sequence

PLAIN = {
    "email": ("Hello", "Hi {{ lead.first_name | default('there') }}. {{ unsubscribe_url }}"),
    "linkedin_invite": (None, "Hi {{ lead.first_name | default('there') }}"),
    "linkedin_message": (None, "Thanks {{ lead.first_name | default('there') }}"),
}


def approve_all(sequence: Sequence, at: datetime) -> Sequence:
    """A message for every step, approved."""
    for step, spec in enumerate(sequence.steps, start=1):
        subject, body = PLAIN[spec["channel"]]
        sequence.edit_message(step=step, subject=subject, body=body, at=at, actor="ops")
        sequence.approve_message(step=step, at=at, actor="ops")
    return sequence
