"""The inbox's commands: marking a thread read or unread, and answering in it by hand.

Both find the thread in the inbox read model (its lead, channel, sender and messages) and record on
the Lead, whose thread it is. Mail of no lead (an unmatched thread) has no Lead to record on, and no
new event is made for it: marking or answering one is refused with 409 `unmatched_thread`.

A manual answer goes out at once on the thread's channel and from its sender, whatever the sending
window (a person is answering a person), but it counts toward the sender's daily limit, taken
from the same counter as the dispatcher's (plera_sender_days, the workspace's day, under its row
lock), and it obeys the suppression list.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from plera.aggregates.enrollment import LeadEnrollment
from plera.aggregates.errors import DomainError, NotFound
from plera.aggregates.lead import Lead
from plera.aggregates.sender_account import SenderAccount
from plera.aggregates.sequence import Sequence
from plera.aggregates.workspace import Workspace
from plera.channels import linkedin
from plera.channels.email import OutgoingEmail, SendFailed, send
from plera.commands.changes import change
from plera.commands.models import Command, text
from plera.commands.next_step import rules_of
from plera.commands.outbound import (
    NoSender,
    OutboundMessage,
    Unrenderable,
    linkedin_account,
    profile_url,
    smtp_account,
)
from plera.commands.suppressions import suppression_for
from plera.projections.inbox import thread
from plera.runtime import Services
from plera.scheduling import policy

_REFERENCES = 20  # the References header keeps the first message and the latest ones, as mail clients do


class UnmatchedThread(DomainError):
    code = "unmatched_thread"


class Suppressed(DomainError):
    code = "suppressed"


class SenderLimitReached(DomainError):
    code = "sender_limit_reached"


class SenderNotActive(DomainError):
    code = "sender_paused"


class NoAddress(DomainError):
    code = "no_address"


class ReplyNotSent(DomainError):
    """The channel refused the answer: nothing was recorded, and the capacity it took was given back."""

    code = "send_failed"
    status = 502


class ReplyInThread(Command):
    body: str = text(20_000, blank=False, description="the answer, as plain text")


def mark_thread(sv: Services, workspace_id: UUID, thread_id: UUID, read: bool, actor: str) -> dict[str, Any]:
    """Records ThreadRead or ThreadUnread on the thread's lead. Returns the thread as marked (the read
    model follows within moments)."""
    found = _lead_thread(sv, workspace_id, thread_id)
    lead_id = UUID(found["lead_id"])

    def marked(lead: Lead) -> bool:
        lead.mark_thread(thread_id=thread_id, read=read, at=sv.clock.now(), actor=actor)
        return True

    change(sv, lead_id, marked, Lead)
    return found | {"unread": not read}


def reply_in_thread(sv: Services, workspace_id: UUID, thread_id: UUID, body: str, actor: str) -> dict[str, Any]:
    """Sends a manual answer in the thread and records ManualReplySent on its lead. Returns what went out."""
    found = _lead_thread(sv, workspace_id, thread_id)
    lead = sv.events.get(UUID(found["lead_id"]), Lead, workspace_id)
    channel = found["channel"]
    if found["sender_id"] is None:
        raise NoSender("the thread has no sender account to answer from")
    sender = sv.events.get(UUID(found["sender_id"]), SenderAccount, workspace_id)
    if sender.status != "active":
        raise SenderNotActive(f"sender account {sender.name!r} is paused: resume it to answer from it")
    email = lead.details.get("email") if channel == "email" else None
    url = lead.details.get("linkedin_url") if channel == "linkedin" else None
    if not (email or url):
        raise NoAddress(f"the lead has no {'email address' if channel == 'email' else 'LinkedIn URL'}")
    suppressed = suppression_for(sv, workspace_id, email=email, linkedin_url=url)
    if suppressed is not None:
        raise Suppressed(f"the person is on the suppression list ({suppressed['skip_reason']}): nothing was sent")

    message_id = f"<manual-{uuid4()}@plera>"
    in_reply_to, references = _threading(found["messages"], email=channel == "email")
    subject = _reply_subject(sv, found, lead, sender) if channel == "email" else None
    deliver = _delivery(sv, sender, channel, message_id, email, url and profile_url(lead), subject, body)
    day = _take_capacity(sv, workspace_id, sender, sv.clock.now())
    try:
        deliver(in_reply_to, references)
    except SendFailed as e:
        _give_back(sv, sender.id, day)
        raise ReplyNotSent(f"the answer was not sent: {e.reason}") from e
    sent_at = sv.clock.now()

    def recorded(current: Lead) -> bool:
        current.record_manual_reply(
            channel=channel,
            sender_id=sender.id,
            message_id=message_id,
            subject=subject,
            text=body,
            in_reply_to=in_reply_to,
            at=sent_at,
            actor=actor,
        )
        return True

    change(sv, lead.id, recorded, Lead)
    return {
        "thread_id": str(thread_id),
        "message_id": message_id,
        "channel": channel,
        "sender_id": str(sender.id),
        "to": email or url,
        "subject": subject,
        "in_reply_to": in_reply_to,
        "references": list(references),
        "sent_at": sent_at.isoformat(),
    }


def _lead_thread(sv: Services, workspace_id: UUID, thread_id: UUID) -> dict[str, Any]:
    with sv.db.pool.connection() as conn:
        found = thread(conn, workspace_id, thread_id)
    if found is None:
        raise NotFound(f"no thread {thread_id}")
    if found["unmatched"]:
        raise UnmatchedThread("this thread is mail no lead was matched to: it cannot be marked or answered")
    return found


def _reply_subject(sv: Services, found: dict[str, Any], lead: Lead, sender: SenderAccount) -> str:
    """The conversation's subject after "Re: ": the first one seen in the thread, else (when only our
    steps are in it, whose text the events do not hold) the first email step's, rendered for the lead."""
    subject = found["subject"]
    if not subject:
        steps = [m for m in found["messages"] if m["enrollment_id"] and m["channel"] == "email"]
        subject = _step_subject(sv, UUID(steps[0]["enrollment_id"]), lead, sender) if steps else None
    return f"Re: {subject}" if subject else ""


def _step_subject(sv: Services, enrollment_id: UUID, lead: Lead, sender: SenderAccount) -> str | None:
    enrollment = sv.events.get(enrollment_id, LeadEnrollment)
    first = enrollment.first_email()
    if first is None:
        return None
    sequence = sv.events.get(enrollment.sequence_id, Sequence)
    try:
        step = OutboundMessage.for_step(sv, sequence, enrollment, lead, sender, first[0], first[1], sv.clock.now())
    except (Unrenderable, DomainError):
        return None
    return step.subject or None


def _threading(messages: list[dict[str, Any]], *, email: bool) -> tuple[str | None, tuple[str, ...]]:
    """In-Reply-To (the person's latest message, else the thread's latest) and References (the
    thread up to it). LinkedIn has no such headers: only the message answered is noted."""
    if not messages:
        return None, ()
    inbound = [m for m in messages if m["direction"] == "in"]
    parent = (inbound or messages)[-1]["message_id"]
    if not email:
        return parent, ()
    ids = [_bracketed(m["message_id"]) for m in messages]
    chain = ids[: ids.index(_bracketed(parent)) + 1]
    if len(chain) > _REFERENCES:
        chain = [chain[0], *chain[-(_REFERENCES - 1) :]]
    return _bracketed(parent), tuple(chain)


def _bracketed(message_id: str) -> str:
    text = message_id.strip()
    return text if text.startswith("<") else f"<{text}>"


def _delivery(
    sv: Services,
    sender: SenderAccount,
    channel: str,
    message_id: str,
    email: str | None,
    profile: str | None,
    subject: str | None,
    body: str,
) -> Callable[[str | None, tuple[str, ...]], None]:
    """The send, with the sender's account resolved first (a sender without settings is refused
    before any capacity is taken)."""
    if channel == "email":
        account = smtp_account(sv, sender)
        assert email is not None

        def by_email(in_reply_to: str | None, references: tuple[str, ...]) -> None:
            message = OutgoingEmail(
                message_id=message_id,
                to=email,
                subject=subject or "",
                text=body,
                date=sv.clock.now(),
                in_reply_to=in_reply_to,
                references=references,
            )
            send(account, message)

        return by_email
    provider = linkedin_account(sv, sender)
    assert profile is not None

    def by_linkedin(in_reply_to: str | None, references: tuple[str, ...]) -> None:
        linkedin.send_message(provider, profile_url=profile, text=body, idempotency_key=message_id)

    return by_linkedin


def _take_capacity(sv: Services, workspace_id: UUID, sender: SenderAccount, now: datetime) -> date:
    """One action of the sender's day (the workspace's), or SenderLimitReached. Returns the day."""
    day = policy.workspace_day(rules_of(sv.events.get(workspace_id, Workspace)), now)
    with sv.db.pool.connection() as conn, conn.transaction():
        conn.execute(
            "INSERT INTO plera_sender_days (sender_id, day) VALUES (%s, %s) ON CONFLICT DO NOTHING", (sender.id, day)
        )
        row = conn.execute(
            "SELECT sent FROM plera_sender_days WHERE sender_id = %s AND day = %s FOR UPDATE", (sender.id, day)
        ).fetchone()
        if row is None or row[0] >= sender.daily_limit:
            raise SenderLimitReached(
                f"sender account {sender.name!r} has used its daily limit of {sender.daily_limit} for {day}"
            )
        conn.execute("UPDATE plera_sender_days SET sent = sent + 1 WHERE sender_id = %s AND day = %s", (sender.id, day))
    return day


def _give_back(sv: Services, sender_id: UUID, day: date) -> None:
    with sv.db.pool.connection() as conn:
        conn.execute(
            "UPDATE plera_sender_days SET sent = greatest(sent - 1, 0) WHERE sender_id = %s AND day = %s",
            (sender_id, day),
        )
