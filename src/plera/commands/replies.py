"""What a reply stops (ARCHITECTURE.md): every remaining no_reply step of the person, on every
channel, in every sequence of the workspace they are in; `always` steps go on. With a sequence's
`company_stop`, the other leads at the same company domain (never a free-mail one) are stopped or
paused in that sequence too. Manual outcomes stop the lead like a reply.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from plera.aggregates.enrollment import LeadEnrollment
from plera.aggregates.lead import Lead
from plera.aggregates.sequence import Sequence
from plera.channels.freemail import company_domain
from plera.runtime import Services


def person_replied(
    sv: Services, workspace_id: UUID, lead_id: UUID, *, channel: str, message_ref: str | None, actor: str
) -> list[UUID]:
    """Records the reply on each of the person's open enrollments, then the company stops. Returns them."""
    at = sv.clock.now()
    touched = []
    for enrollment_id in open_enrollments(sv, workspace_id, [lead_id]):
        if change(sv, enrollment_id, lambda e: _reply(e, channel, message_ref, at, actor)):
            touched.append(enrollment_id)
    company_stop(sv, workspace_id, lead_id, actor=actor, at=at)
    return touched


def record_outcome(sv: Services, workspace_id: UUID, enrollment_id: UUID, outcome: str, actor: str) -> LeadEnrollment:
    """A manual outcome on one enrollment; the person's other sequences stop their no_reply steps as for a reply."""
    enrollment = sv.events.get(enrollment_id, LeadEnrollment, workspace_id)
    at = sv.clock.now()

    def recorded(e: LeadEnrollment) -> bool:
        e.record_outcome(outcome=outcome, at=at, actor=actor)
        return True

    change(sv, enrollment_id, recorded)
    for other in open_enrollments(sv, workspace_id, [enrollment.lead_id]):
        if other != enrollment_id:
            change(sv, other, lambda e: _reply(e, "manual", None, at, actor))
    company_stop(sv, workspace_id, enrollment.lead_id, actor=actor, at=at)
    return sv.events.get(enrollment_id, LeadEnrollment, workspace_id)


def company_stop(sv: Services, workspace_id: UUID, lead_id: UUID, *, actor: str, at: datetime) -> int:
    """Stops or pauses the colleagues of a lead who replied, in each of its sequences that asks for it."""
    lead = sv.events.get(lead_id, Lead, workspace_id)
    domain = company_domain(lead.details.get("email") or "")
    if domain is None:
        return 0
    with sv.db.pool.connection() as conn:
        rows = conn.execute(
            "SELECT e.id, e.sequence_id FROM read.enrollments e JOIN read.leads l ON l.id = e.lead_id"
            " WHERE e.workspace_id = %s AND e.status IN ('active', 'paused') AND e.lead_id <> %s"
            " AND lower(split_part(l.email, '@', 2)) = %s"
            " AND e.sequence_id IN (SELECT sequence_id FROM read.enrollments WHERE lead_id = %s)",
            (workspace_id, lead_id, domain, lead_id),
        ).fetchall()
    sequences = {s: sv.events.get(s, Sequence) for s in {r[1] for r in rows}}
    done = 0
    for enrollment_id, sequence_id in rows:
        rule = sequences[sequence_id].settings.get("company_stop", "off")
        if rule == "stop":
            done += change(sv, enrollment_id, lambda e: _stop(e, "a colleague replied", at, actor))
        elif rule == "pause":
            done += change(sv, enrollment_id, lambda e: _pause(e, "a colleague replied", at, actor))
    return done


def open_enrollments(sv: Services, workspace_id: UUID, lead_ids: list[UUID]) -> list[UUID]:
    with sv.db.pool.connection() as conn:
        rows = conn.execute(
            "SELECT id FROM read.enrollments WHERE workspace_id = %s AND lead_id = ANY(%s)"
            " AND status IN ('active', 'paused')",
            (workspace_id, lead_ids),
        ).fetchall()
    return [r[0] for r in rows]


def change(sv: Services, aggregate_id: UUID, apply: Callable[[Any], bool], kind: type = LeadEnrollment) -> bool:
    """Applies a change to the aggregate (an enrollment unless `kind` says otherwise) as it is now, and
    again if something else was saved first. False when `apply` found nothing to do."""
    for _ in range(5):
        aggregate: Any = sv.events.get(aggregate_id, kind)
        if not apply(aggregate):
            return False
        try:
            sv.events.save(aggregate)
            return True
        except IntegrityError:
            continue
    raise RuntimeError(f"could not change {kind.__name__} {aggregate_id}")


def _reply(e: LeadEnrollment, channel: str, message_ref: str | None, at: datetime, actor: str) -> bool:
    if not e.is_open:
        return False
    e.record_reply(channel=channel, message_ref=message_ref, at=at, actor=actor)
    return True


def _stop(e: LeadEnrollment, reason: str, at: datetime, actor: str) -> bool:
    if not e.is_open:
        return False
    e.stop(reason=reason, at=at, actor=actor)
    return True


def _pause(e: LeadEnrollment, reason: str, at: datetime, actor: str) -> bool:
    if not e.is_open or e.paused:
        return False
    e.pause(reason=reason, at=at, actor=actor)
    return True
