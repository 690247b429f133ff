"""What goes out for one step: the approved text rendered for the lead, addressed and threaded, and
the sender's channel settings it goes out with (`outbox.py` sends it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.errors import MessageError
from uuid import UUID

from plera.aggregates.enrollment import LeadEnrollment
from plera.aggregates.errors import DomainError
from plera.aggregates.lead import Lead, normalise_linkedin_url
from plera.aggregates.sender_account import SenderAccount
from plera.aggregates.sequence import Sequence
from plera.aggregates.strategy_profile import StrategyProfile
from plera.channels import linkedin
from plera.channels.email import OutgoingEmail, SmtpAccount, wire_bytes
from plera.commands.models import email_address
from plera.messaging.templates import LEAD_FIELDS, analyse, context_of, render
from plera.messaging.unsubscribe import unsubscribe_url
from plera.runtime import Services
from plera.text import has_control


class NoSender(DomainError):
    code = "no_sender_for_channel"


class Unrenderable(Exception):
    """The message cannot be made for this lead: its approved text does not render, or the email
    cannot be written (an address that is not one mailbox, a header with a line break). The send
    protocol fails the step for good with this reason, before its dispatch."""


@dataclass(frozen=True)
class OutboundMessage:
    channel: str
    message_id: str
    to: str  # an email address, or a LinkedIn profile URL
    subject: str | None
    text: str | None  # None: a LinkedIn invite without a note
    date: datetime
    in_reply_to: str | None = None
    references: tuple[str, ...] = field(default_factory=tuple)
    unsubscribe_url: str | None = None

    @classmethod
    def for_step(
        cls,
        sv: Services,
        sequence: Sequence,
        enrollment: LeadEnrollment,
        lead: Lead,
        sender: SenderAccount,
        step: int,
        message_id: str,
        now: datetime,
    ) -> OutboundMessage:
        channel = enrollment.channel_of(step)
        unsubscribe = (
            unsubscribe_url(sv.settings.public_url, sv.signing_key, lead.workspace_id, lead.id)
            if channel == "email"
            else None
        )
        context = context_of(
            {f: lead.details.get(f) for f in LEAD_FIELDS},
            {"name": sender.name, "signature": sender.signature or _profile_signature(sv, sequence)},
            unsubscribe,
        )

        def rendered(number: int, part: str) -> str:
            approved = sequence.approved_text(number, lead.id)
            source = (approved or {}).get(part) or ""
            channel_of_step = enrollment.channel_of(number)
            out = render(source, context, channel=channel_of_step)
            if out.error:
                raise Unrenderable(f"step {number} {part} does not render: {out.error}")
            _check_lead_values(analyse(source, channel=channel_of_step).variables, context.lead)
            return out.text.strip() if part == "subject" else out.text

        if channel == "linkedin_invite" and sequence.settings.get("invite_without_note"):
            return cls(channel, message_id, profile_url(lead), None, None, now)
        body = rendered(step, "body")
        if channel != "email":
            return cls(channel, message_id, profile_url(lead), None, body, now)

        def opening_subject() -> str:
            """The sequence's first email's subject: the subject a thread starts with."""
            first_step = next(n for n in range(1, step + 1) if enrollment.channel_of(n) == "email")
            return rendered(first_step, "subject")

        subject = rendered(step, "subject")
        first = enrollment.first_email()
        in_reply_to: str | None = None
        references: tuple[str, ...] = ()
        if first is not None and first[0] != step:
            in_reply_to, references = first[1], (first[1],)
            thread = rendered(first[0], "subject") or opening_subject()
            subject = subject or (f"Re: {thread}" if thread else "")
        elif not subject:  # a new thread, through a sender that took the lead over: never "Re:" a mail it did not send
            subject = opening_subject()
        message = cls(
            channel,
            message_id,
            str(lead.details.get("email")),
            subject,
            body,
            now,
            in_reply_to,
            references,
            unsubscribe,
        )
        message.check_buildable(sender)
        return message

    def as_email(self) -> OutgoingEmail:
        return OutgoingEmail(
            message_id=self.message_id,
            to=self.to,
            subject=self.subject or "",
            text=self.text or "",
            date=self.date,
            in_reply_to=self.in_reply_to,
            references=self.references,
            unsubscribe_url=self.unsubscribe_url,
        )

    def check_buildable(self, sender: SenderAccount) -> None:
        """Writes the email once as it would go on the wire, so that what cannot be written is found
        before the dispatch (and fails this step with its reason) rather than in the channel, where
        the step would stay dispatching until its outcome is unknown."""
        try:
            email_address(self.to)
            from_only = SmtpAccount(host="", port=0, from_name=sender.name, from_address=sender.address)
            wire_bytes(from_only, self.as_email())
        except (ValueError, TypeError, LookupError, MessageError) as error:  # UnicodeError is a ValueError
            raise Unrenderable(f"the email cannot be written: {error}") from None


def _check_lead_values(used: frozenset[str], lead: Mapping[str, str]) -> None:
    """A lead's name or company holding a line break (or another control character) is broken data,
    which no message should show (in a subject it would forge a header): the message is not made."""
    for name in sorted(used):
        value = lead.get(name.removeprefix("lead.")) if name.startswith("lead.") else None
        if value is not None and has_control(value):
            raise Unrenderable(f"{name} of this lead holds a line break or another control character")


def profile_url(lead: Lead) -> str:
    """The lead's LinkedIn profile as a provider expects it: https, with www for linkedin.com itself."""
    path = normalise_linkedin_url(str(lead.details.get("linkedin_url") or ""))
    return f"https://www.{path}" if path.startswith("linkedin.com/") else f"https://{path}"


def _profile_signature(sv: Services, sequence: Sequence) -> str | None:
    if sequence.strategy_profile_id is None:
        return None
    profile = sv.events.get(sequence.strategy_profile_id, StrategyProfile)
    return profile.signature or None


def smtp_account(sv: Services, sender: SenderAccount) -> SmtpAccount:
    """The account's SMTP settings, with its password from the vault."""
    connection = sender.connection
    if connection.get("kind") != "smtp":
        raise NoSender(f"sender account {sender.name!r} has no SMTP settings")
    secret = connection.get("password_secret_id")
    return SmtpAccount(
        host=connection["host"],
        port=int(connection["port"]),
        from_name=sender.name,
        from_address=sender.address,
        username=connection.get("username") or None,  # blank, as senders added before that rule kept it: no login
        password=sv.vault.get(UUID(secret)) if secret else None,
        starttls=bool(connection.get("starttls")),
    )


def linkedin_account(sv: Services, sender: SenderAccount) -> linkedin.LinkedInAccount:
    connection = sender.connection
    if connection.get("kind") != "provider":
        raise NoSender(f"sender account {sender.name!r} has no LinkedIn provider settings")
    return linkedin.LinkedInAccount(
        base_url=connection["base_url"],
        account_id=connection["account_id"],
        api_key=sv.vault.get(UUID(connection["api_key_secret_id"])),
    )
