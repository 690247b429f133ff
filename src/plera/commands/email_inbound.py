"""Inbound email: a raw message from the workspace's mail webhook, matched, classified and applied.

Matching: our Message-IDs first (In-Reply-To, References, and a bounce's returned message), then
the sender's address against the workspace's leads. Our own outbound copies are never replies.
Mail no lead matches is kept for the inbox as unmatched. The same Message-ID twice changes nothing.

What it does, by classification (channels/inbound.py):
- reply: the person's remaining no_reply steps stop in every sequence (commands/replies.py);
- auto-reply: not a reply; the person's leads pause until the return date (or a week);
- bounce: a hard one ends the step and the lead's email, and suppresses the address; a soft one
  returns the step for another attempt, up to the dispatcher's limit;
- unsubscribe request: the person is suppressed and stopped everywhere, as by the one-click link.
Everything is committed before the webhook answers 202.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from plera.aggregates.enrollment import LeadEnrollment
from plera.aggregates.lead import Lead
from plera.aggregates.sequence import Sequence
from plera.aggregates.workspace import Workspace
from plera.channels.inbound import Classification, Inbound, classify, parse
from plera.commands.deliveries import once
from plera.commands.dispatch import BACKOFF, MAX_ATTEMPTS
from plera.commands.next_step import rules_of, schedule_next, zone_of
from plera.commands.replies import change, open_enrollments, person_replied
from plera.commands.suppressions import AddSuppression, add_suppression, unsubscribe_lead
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
    return once(
        sv, workspace_id, f"email:{message_id}", lambda: _take_in(sv, workspace_id, inbound, message_id), DUPLICATE
    )


DUPLICATE = Taken("duplicate", None, [])


def _take_in(sv: Services, workspace_id: UUID, inbound: Inbound, message_id: str) -> Taken:
    if _is_ours(sv, workspace_id, inbound, message_id):
        return Taken("own_message", None, [])
    found = classify(inbound, now=sv.clock.now())
    refs = [
        r
        for r in (inbound.in_reply_to, *inbound.references, found.bounce.original_message_id if found.bounce else None)
        if r
    ]
    with sv.db.pool.connection() as conn:
        step = step_of_message(conn, refs)
        answered = None if step else ours_among(conn, workspace_id, refs)  # a manual answer of ours
    enrollment = sv.events.get(step[0], LeadEnrollment) if step else None
    if enrollment is not None and enrollment.workspace_id != workspace_id:
        enrollment, step = None, None
    if enrollment is not None:
        leads = [enrollment.lead_id]
    elif answered is not None:
        leads = [answered["lead_id"]]
    elif found.bounce is not None:  # a bounce names the address it could not reach, not its sender
        leads = [lead for address in found.bounce.recipients for lead in _leads_by_address(sv, workspace_id, address)]
    else:
        leads = _leads_by_address(sv, workspace_id, inbound.from_address)
    if not leads:
        _keep_unmatched(sv, workspace_id, inbound, message_id, found)
        return Taken("unmatched", found.kind, [])
    sender_id = step[2] if step else (answered["sender_id"] if answered else None)
    for lead_id in leads:
        _keep_in_thread(sv, workspace_id, lead_id, inbound, message_id, found, sender_id)
        _apply(sv, workspace_id, lead_id, inbound, message_id, found, enrollment)
    return Taken("applied", found.kind, leads)


def _apply(
    sv: Services,
    workspace_id: UUID,
    lead_id: UUID,
    inbound: Inbound,
    message_id: str,
    found: Classification,
    enrollment: LeadEnrollment | None,
) -> None:
    at = sv.clock.now()
    if found.kind == "reply":
        person_replied(sv, workspace_id, lead_id, channel="email", message_ref=message_id, actor=ACTOR)
    elif found.kind == "auto_reply" and found.auto is not None:
        until = found.auto.paused_until
        for enrollment_id in open_enrollments(sv, workspace_id, [lead_id]):
            change(
                sv,
                enrollment_id,
                lambda e: e.record_out_of_office(until=until, message_ref=message_id, at=at, actor=ACTOR),
            )
    elif found.kind == "bounce" and found.bounce is not None:
        _bounced(sv, workspace_id, lead_id, found, enrollment)
    elif found.kind == "unsubscribe":
        unsubscribe_lead(sv, workspace_id, lead_id, actor=ACTOR, reason="asked by email to be removed")


def _bounced(
    sv: Services, workspace_id: UUID, lead_id: UUID, found: Classification, enrollment: LeadEnrollment | None
) -> None:
    bounce = found.bounce
    assert bounce is not None
    at = sv.clock.now()
    lead = sv.events.get(lead_id, Lead, workspace_id)
    if enrollment is not None and bounce.original_message_id:
        original = bounce.original_message_id
        sequence = sv.events.get(enrollment.sequence_id, Sequence)
        rules = rules_of(sv.events.get(workspace_id, Workspace))
        zone = zone_of(lead, rules).zone
        reason = " ".join(p for p in (bounce.status, bounce.diagnostic) if p) or "bounced"

        def record(e: LeadEnrollment) -> bool:
            step = next((n for n, s in enumerate(e.steps, start=1) if s["message_id"] == original), None)
            # A soft bounce is sent again while the lead may still go on; after the last attempt, or
            # when the lead has finished, it counts as hard.
            hard = bounce.hard or not e.is_open or (step is not None and e.attempts_of(step) + 1 >= MAX_ATTEMPTS)
            step = e.record_bounce(message_id=original, hard=hard, reason=reason, at=at, actor=ACTOR)
            if step is None:
                return False
            if hard:
                e.skip_channel(channel_family="email", reason=f"email bounced: {reason}", at=at, actor=ACTOR)
                schedule_next(e, sequence, rules, zone, at=at, actor=ACTOR)
            elif e.is_open and not e.paused and sequence.is_running and e.next_step == step:
                retry_at = at + BACKOFF[min(e.attempts_of(step), len(BACKOFF)) - 1]
                e.schedule(step=step, eligible_at=retry_at, sequence_running=True, at=at, actor=ACTOR)
            return True

        change(sv, enrollment.id, record)
    if bounce.hard and lead.details.get("email"):
        cmd = AddSuppression(
            kind="email", value=lead.details["email"], reason=bounce.diagnostic or bounce.status or "hard bounce"
        )
        add_suppression(sv, workspace_id, cmd, ACTOR, source="hard_bounce", lead_id=lead_id)


def _is_ours(sv: Services, workspace_id: UUID, inbound: Inbound, message_id: str) -> bool:
    """Our own outbound copy (a BCC, a mailbox sync): from one of our senders, or with one of our ids."""
    with sv.db.pool.connection() as conn:
        sender = conn.execute(
            "SELECT 1 FROM read.catalog WHERE workspace_id = %s AND kind = 'sender_account'"
            " AND lower(data->>'address') = %s LIMIT 1",
            (workspace_id, (inbound.from_address or "").lower()),
        ).fetchone()
        ours = step_of_message(conn, [message_id]) or ours_among(conn, workspace_id, [message_id])
    return sender is not None or ours is not None


def _leads_by_address(sv: Services, workspace_id: UUID, address: str | None) -> list[UUID]:
    if not address:
        return []
    with sv.db.pool.connection() as conn:
        rows = conn.execute(
            "SELECT id FROM read.leads WHERE workspace_id = %s AND lower(btrim(email)) = %s",
            (workspace_id, address.lower()),
        ).fetchall()
    return [r[0] for r in rows]


def _keep_in_thread(
    sv: Services,
    workspace_id: UUID,
    lead_id: UUID,
    inbound: Inbound,
    message_id: str,
    found: Classification,
    sender_id: UUID | None,
) -> None:
    def received(lead: Lead) -> bool:
        lead.record_received(
            channel="email",
            sender_id=sender_id,
            message_id=message_id,
            subject=inbound.subject or None,
            text=inbound.text[:20_000],
            classification=found.kind,
            in_reply_to=inbound.in_reply_to,
            at=sv.clock.now(),
            actor=ACTOR,
        )
        return True

    change(sv, lead_id, received, Lead)


def _keep_unmatched(sv: Services, workspace_id: UUID, inbound: Inbound, message_id: str, found: Classification) -> None:
    def kept(workspace: Workspace) -> bool:
        workspace.record_unmatched(
            message_id=message_id,
            from_address=inbound.from_address,
            subject=inbound.subject or None,
            text=inbound.text[:20_000],
            classification=found.kind,
            at=sv.clock.now(),
            actor=ACTOR,
        )
        return True

    change(sv, workspace_id, kept, Workspace)
