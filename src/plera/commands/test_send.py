"""Test sends: one step, rendered for one lead, sent now to a test address from the lead's email sender."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from pydantic import Field

from plera.aggregates.errors import InvalidValue
from plera.aggregates.lead import Lead
from plera.aggregates.sender_account import SenderAccount
from plera.aggregates.sequence import Sequence
from plera.channels.email import OutgoingEmail, send
from plera.commands.messaging import previewer_for
from plera.commands.models import Command, EmailAddress
from plera.commands.outbound import NoSender, smtp_account
from plera.projections.lead_data import lead_rows
from plera.runtime import Services

CHANNEL_NAMES = {"email": "email", "linkedin_invite": "LinkedIn invite note", "linkedin_message": "LinkedIn message"}


class TestSend(Command):
    step: int = Field(ge=1, le=50)
    lead_id: UUID
    to: EmailAddress = Field(description="the test address: one bare address (a test goes to exactly one inbox)")


def test_send(sv: Services, workspace_id: UUID, sequence_id: UUID, cmd: TestSend, actor: str) -> dict[str, Any]:
    sequence = sv.events.get(sequence_id, Sequence, workspace_id)
    lead = sv.events.get(cmd.lead_id, Lead, workspace_id)
    sequence.key_of(cmd.step)  # the step exists
    with sv.db.pool.connection() as conn:
        if not lead_rows(conn, workspace_id, sequence.source_group_ids, lead_ids=[lead.id], limit=1):
            raise InvalidValue(f"lead {lead.id} is not an eligible lead of this sequence's source groups")
    previewer = previewer_for(sv, sequence)
    item = previewer.preview({"id": lead.id, **lead.details})[cmd.step - 1]
    if item.skip_reason:
        raise InvalidValue(f"this lead skips step {cmd.step}: {item.skip_reason}")
    if item.error:
        raise InvalidValue(f"step {cmd.step} does not render for this lead: {item.error}")
    chosen = previewer.sender_of(lead.id, "email")
    if chosen is None:
        raise NoSender("a test is sent from an email sender: choose one for the sequence first")
    account = smtp_account(sv, sv.events.get(chosen.id, SenderAccount, workspace_id))
    channel = item.channel
    subject = item.subject if channel == "email" else f"{CHANNEL_NAMES[channel]} for {lead.name or lead.id}"
    message_id = f"<test-{uuid4()}@plera>"
    send(
        account,
        OutgoingEmail(
            message_id=message_id,
            to=cmd.to,
            subject=f"[Test] {subject or ''}".strip(),
            text=item.body,
            date=sv.clock.now(),
            unsubscribe_url=None,  # a test is not outreach: nobody at this address opts out of anything
        ),
    )
    return {"message_id": message_id, "to": cmd.to, "subject": subject, "channel": channel}
