"""Inbound email: a raw message from the workspace's mail webhook, matched, classified and applied.

Matching: our Message-IDs first (In-Reply-To, References, and a bounce's returned message), then
the sender's address against the workspace's leads. Our own outbound copies are never replies.
Mail no lead matches is kept for the inbox as unmatched. The same Message-ID twice changes nothing.

What it does, by classification (channels/inbound.py):
- reply: the person's remaining no_reply steps stop in every sequence, and the enrollment it answers
  (the one whose message it names, else the one last mailed) records it, completed or not
  (commands/replies.py);
- auto-reply: not a reply; the person's leads pause until the return date (else for the workspace's
  out_of_office_pause_days);
- bounce: a hard one ends the step and the lead's email, and suppresses the address; a soft one
  returns the step for another attempt, up to the dispatcher's limit;
- unsubscribe request: the person is suppressed and stopped everywhere, as by the one-click link.
Everything, with the delivery's id, is committed in one transaction before the webhook answers 202.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import Connection

from plera.aggregates.enrollment import LeadEnrollment
from plera.aggregates.lead import Lead
from plera.aggregates.sequence import Sequence
from plera.aggregates.unmatched_mail import UnmatchedMail
from plera.aggregates.workspace import Workspace
from plera.channels.inbound import Bounce, Classification, Inbound, classify, parse
from plera.commands.changes import Changes
from plera.commands.deliveries import once
from plera.commands.next_step import rules_of, schedule_next
from plera.commands.replies import open_enrollments_of_person, person_replied
from plera.commands.send_outcomes import BACKOFF, MAX_ATTEMPTS  # a soft bounce is retried as a send is
from plera.commands.suppressions import AddSuppression, suppress, unsubscribe_person
from plera.projections.enrollments import step_of_message
from plera.projections.inbox import ours_among
from plera.runtime import Services

ACTOR = "webhook"


@dataclass(frozen=True)
class Taken:
    status: str  # "applied", "duplicate", "own_message", "unmatched"
    classification: str | None
    lead_ids: list[UUID]

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "classification": self.classification,
            "lead_ids": [str(i) for i in self.lead_ids],
        }


def take_in_email(sv: Services, workspace_id: UUID, raw: bytes) -> Taken:
    inbound = parse(raw)
    message_id = inbound.message_id or f"<sha256-{hashlib.sha256(raw).hexdigest()}@inbound>"
    found = classify(inbound, now=sv.clock.now())
    return once(
        sv,
        workspace_id,
        f"email:{message_id}",
        lambda changes: _take_in(changes, workspace_id, Mail(inbound, message_id, found)),
        DUPLICATE,
    )


DUPLICATE = Taken("duplicate", None, [])


@dataclass(frozen=True)
class Mail:
    inbound: Inbound
    message_id: str
    found: Classification


def _take_in(changes: Changes, workspace_id: UUID, mail: Mail) -> Taken:
    inbound, found = mail.inbound, mail.found
    refs = [
        r
        for r in (inbound.in_reply_to, *inbound.references, found.bounce.original_message_id if found.bounce else None)
        if r
    ]
    with changes.sv.db.pool.connection() as conn:
        if _is_ours(conn, workspace_id, inbound, mail.message_id):
            return Taken("own_message", None, [])
        step = step_of_message(conn, refs) if refs else None
        answered = None if step or not refs else ours_among(conn, workspace_id, refs)  # a manual answer of ours
        enrollment = changes.get(step[0], LeadEnrollment) if step else None
        if enrollment is not None and enrollment.workspace_id != workspace_id:
            enrollment, step = None, None
        if enrollment is not None:
            lead_ids = [enrollment.lead_id]
        elif answered is not None:
            lead_ids = [answered["lead_id"]]
        elif found.bounce is not None:  # a bounce names the address it could not reach, not its sender
            lead_ids = [
                lead for address in found.bounce.recipients for lead in _leads_by_address(conn, workspace_id, address)
            ]
        else:
            lead_ids = _leads_by_address(conn, workspace_id, inbound.from_address)
    if not lead_ids:
        _keep_unmatched(changes, workspace_id, mail)
        return Taken("unmatched", found.kind, [])
    sender_id = step[2] if step else (answered["sender_id"] if answered else None)
    for lead_id in dict.fromkeys(lead_ids):
        lead = changes.get(lead_id, Lead, workspace_id)
        _keep_in_thread(changes, lead, mail, sender_id)
        _apply(changes, lead, mail, enrollment, sender_id)
    return Taken("applied", found.kind, lead_ids)


def _apply(changes: Changes, lead: Lead, mail: Mail, enrollment: LeadEnrollment | None, sender_id: UUID | None) -> None:
    at = changes.sv.clock.now()
    found = mail.found
    if found.kind == "reply":
        # The enrollment whose message it names is the one it answers, even once completed.
        answered = enrollment if enrollment is not None and enrollment.lead_id == lead.id else None
        person_replied(
            changes,
            lead,
            channel="email",
            message_ref=mail.message_id,
            actor=ACTOR,
            answered=answered,
            sender_id=sender_id,
        )
    elif found.kind == "auto_reply" and found.auto is not None:
        days = changes.get(lead.workspace_id, Workspace).out_of_office_pause_days
        until = found.auto.paused_until(at, days)
        for away in open_enrollments_of_person(changes, lead):
            away.record_out_of_office(until=until, message_ref=mail.message_id, at=at, actor=ACTOR)
    elif found.kind == "bounce" and found.bounce is not None:
        _bounced(changes, lead, found.bounce, enrollment)
    elif found.kind == "unsubscribe":
        unsubscribe_person(changes, lead, ACTOR, "asked by email to be removed")


def _bounced(changes: Changes, lead: Lead, bounce: Bounce, enrollment: LeadEnrollment | None) -> None:
    at = changes.sv.clock.now()
    if enrollment is not None and enrollment.lead_id == lead.id and bounce.original_message_id:
        original = bounce.original_message_id
        sequence = changes.get(enrollment.sequence_id, Sequence)
        rules = rules_of(changes.get(lead.workspace_id, Workspace))
        reason = " ".join(p for p in (bounce.status, bounce.diagnostic) if p) or "bounced"
        e = enrollment
        number = next((n for n, s in enumerate(e.steps, start=1) if s["message_id"] == original), None)
        # A soft bounce is sent again while the lead may still go on; after the last attempt, or
        # when the lead has finished, it counts as hard.
        hard = bounce.hard or not e.is_open or (number is not None and e.attempts_of(number) + 1 >= MAX_ATTEMPTS)
        step = e.record_bounce(message_id=original, hard=hard, reason=reason, at=at, actor=ACTOR)
        if step is not None and hard:
            e.skip_channel(channel_family="email", reason=f"email bounced: {reason}", at=at, actor=ACTOR)
            schedule_next(e, sequence, rules, lead, at=at, actor=ACTOR)
        elif step is not None and e.is_open and not e.paused and sequence.is_running and e.next_step == step:
            retry_at = at + BACKOFF[min(e.attempts_of(step), len(BACKOFF)) - 1]
            e.schedule(step=step, eligible_at=retry_at, sequence_running=True, at=at, actor=ACTOR)
    if bounce.hard and lead.details.get("email"):
        cmd = AddSuppression(
            kind="email", value=lead.details["email"], reason=bounce.diagnostic or bounce.status or "hard bounce"
        )
        suppress(changes, lead.workspace_id, cmd, ACTOR, source="hard_bounce", lead_id=lead.id)


def _is_ours(conn: Connection[Any], workspace_id: UUID, inbound: Inbound, message_id: str) -> bool:
    """Our own outbound copy (a BCC, a mailbox sync): from one of our senders, or with the id of one of
    our messages (a step's, as `step_of_message` finds it, or a manual answer's, as `ours_among`). One
    query, not three: every inbound message asks, and most are not ours."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM read.catalog WHERE workspace_id = %(ws)s AND kind = 'sender_account'"
        "  AND lower(data->>'address') = %(sender)s)"
        " OR EXISTS (SELECT 1 FROM read.enrollment_steps WHERE message_id = %(id)s)"
        " OR EXISTS (SELECT 1 FROM read.inbox_messages WHERE message_id = %(id)s AND workspace_id = %(ws)s"
        "  AND direction = 'out' AND lead_id IS NOT NULL)",
        {"ws": workspace_id, "sender": (inbound.from_address or "").lower(), "id": message_id},
    ).fetchone()
    return bool(row and row[0])


def _leads_by_address(conn: Connection[Any], workspace_id: UUID, address: str | None) -> list[UUID]:
    if not address:
        return []
    rows = conn.execute(
        "SELECT id FROM read.leads WHERE workspace_id = %s AND lower(btrim(email)) = %s",
        (workspace_id, address.lower()),
    ).fetchall()
    return [r[0] for r in rows]


def _keep_in_thread(changes: Changes, lead: Lead, mail: Mail, sender_id: UUID | None) -> None:
    lead.record_received(
        channel="email",
        sender_id=sender_id,
        message_id=mail.message_id,
        subject=mail.inbound.subject or None,
        text=mail.inbound.text[:20_000],
        classification=mail.found.kind,
        in_reply_to=mail.inbound.in_reply_to,
        at=changes.sv.clock.now(),
        actor=ACTOR,
    )


def _keep_unmatched(changes: Changes, workspace_id: UUID, mail: Mail) -> None:
    changes.add(
        UnmatchedMail.receive(
            workspace_id=workspace_id,
            message_id=mail.message_id,
            from_address=mail.inbound.from_address,
            subject=mail.inbound.subject or None,
            text=mail.inbound.text[:20_000],
            classification=mail.found.kind,
            at=changes.sv.clock.now(),
            actor=ACTOR,
        )
    )
