"""What a reply stops (ARCHITECTURE.md): every remaining no_reply step of the person, on every
channel, in every sequence of the workspace they are in; `always` steps go on. With a sequence's
`company_stop`, the other leads at the same company domain (never a free-mail one) are stopped or
paused in that sequence too. Manual outcomes stop the lead like a reply.

A reply is recorded on the enrollment it answers even once that has completed (a reply to the last
step counts on the dashboard), and once per enrollment: a later message from the person is the
lead's MessageReceived (the inbox shows it) and stops nothing new. An outcome likewise stops the
person once; repeating it records nothing, and changing it records only the new outcome.

These work on a `Changes`, so a reply and everything it stops are recorded in one transaction.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from plera.aggregates.enrollment import LeadEnrollment, StepStatus
from plera.aggregates.lead import Lead, SourceGroup, lead_id_for
from plera.aggregates.sequence import Sequence
from plera.channels.freemail import company_domain
from plera.commands.changes import Changes, atomically
from plera.projections.inbox import family_of
from plera.runtime import Services


def person_replied(
    changes: Changes,
    lead: Lead,
    *,
    channel: str,
    message_ref: str | None,
    actor: str,
    answered: LeadEnrollment | None = None,
    sender_id: UUID | None = None,
) -> list[UUID]:
    """Records the reply on each of the person's open enrollments and on the one it answers, open or
    not: a reply to the last step counts, though a completed enrollment has nothing left to stop.
    `answered` is the enrollment whose message the reply names; without one, it is the one whose
    message on the channel (from `sender_id`, when known) went out last. Then the company stops, in
    the sequences where this was the person's first reply. Returns the enrollments it changed."""
    at = changes.sv.clock.now()
    everywhere = enrollments_of_person(changes, lead)
    answered = answered or last_messaged(everywhere, family_of(channel), sender_id)
    others = [e for e in everywhere if e.is_open and (answered is None or e.id != answered.id)]
    touched = [answered, *others] if answered else others
    versions = {e.id: e.version for e in touched}
    first = {
        e.sequence_id for e in touched if e.record_reply(channel=channel, message_ref=message_ref, at=at, actor=actor)
    }
    company_stop(changes, lead, first, actor=actor, at=at)
    return [e.id for e in touched if e.version != versions[e.id]]


def last_messaged(enrollments: list[LeadEnrollment], family: str, sender_id: UUID | None) -> LeadEnrollment | None:
    """The enrollment whose step on this channel family ("email" or "linkedin"), from this sender
    when one is given, went out last: the one a reply that names none of our messages answers."""
    latest: tuple[datetime, LeadEnrollment] | None = None
    for enrollment in enrollments:
        for number, state in enumerate(enrollment.steps, start=1):
            if state["status"] != StepStatus.SENT.value or family_of(enrollment.channel_of(number)) != family:
                continue
            if sender_id is not None and str(state["sender_id"]) != str(sender_id):
                continue
            sent_at = datetime.fromisoformat(state["done_at"])
            if latest is None or sent_at > latest[0]:
                latest = (sent_at, enrollment)
    return latest[1] if latest else None


def record_outcome(sv: Services, workspace_id: UUID, enrollment_id: UUID, outcome: str, actor: str) -> LeadEnrollment:
    """A manual outcome on one enrollment. The first one stops the person's other sequences' no_reply
    steps as a reply does; the same one again changes nothing, and another one only corrects the label
    (the first already stopped what a reply stops)."""

    def decide(changes: Changes) -> LeadEnrollment:
        at = sv.clock.now()
        enrollment = changes.get(enrollment_id, LeadEnrollment, workspace_id)
        first = enrollment.outcome is None
        enrollment.record_outcome(outcome=outcome, at=at, actor=actor)
        if not first:
            return enrollment
        lead = changes.get(enrollment.lead_id, Lead, workspace_id)
        others = [e for e in open_enrollments_of_person(changes, lead) if e.id != enrollment_id]
        newly = [e for e in others if e.record_reply(channel="manual", message_ref=None, at=at, actor=actor)]
        company_stop(changes, lead, {e.sequence_id for e in [enrollment, *newly]}, actor=actor, at=at)
        return enrollment

    return atomically(sv, decide)


def company_stop(changes: Changes, lead: Lead, sequence_ids: set[UUID], *, actor: str, at: datetime) -> int:
    """Stops or pauses the colleagues of a lead who replied, in each of these sequences that asks for it."""
    domain = company_domain(lead.details.get("email") or "")
    if domain is None or not sequence_ids:
        return 0
    with changes.sv.db.pool.connection() as conn:
        # The catalog narrows to the sequences that ask for a company stop; each one's own rule decides.
        asking = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM read.catalog WHERE id = ANY(%s) AND data->'settings'->>'company_stop' IN ('stop', 'pause')",
                (list(sequence_ids),),
            )
        ]
        if not asking:
            return 0
        rows = conn.execute(
            "SELECT e.id, e.sequence_id FROM read.enrollments e JOIN read.leads l ON l.id = e.lead_id"
            " WHERE e.sequence_id = ANY(%s) AND e.status IN ('active', 'paused') AND e.lead_id <> %s"
            " AND lower(split_part(l.email, '@', 2)) = %s",
            (asking, lead.id, domain),
        ).fetchall()
    rules = {s: changes.get(s, Sequence).settings.get("company_stop", "off") for s in {r[1] for r in rows}}
    colleagues = changes.many(r[0] for r in rows if rules[r[1]] != "off")
    done = 0
    for enrollment in colleagues.values():
        if not enrollment.is_open:
            continue
        if rules[enrollment.sequence_id] == "stop":
            enrollment.stop(reason="a colleague replied", at=at, actor=actor)
            done += 1
        elif not enrollment.paused:
            enrollment.pause(reason="a colleague replied", at=at, actor=actor)
            done += 1
    return done


def open_enrollments_of_person(changes: Changes, lead: Lead) -> list[LeadEnrollment]:
    """The open enrollments of the person (see enrollments_of_person)."""
    return [e for e in enrollments_of_person(changes, lead) if e.is_open]


def enrollments_of_person(changes: Changes, lead: Lead) -> list[LeadEnrollment]:
    """The enrollments of the lead, in every sequence, open or not, and of the lead the same person
    would be if imported by LinkedIn URL alone (a lead is named by its email, else its URL).

    Read from the event store, so an enrollment the read models have not seen yet is found too."""
    people = [lead]
    url, email = lead.details.get("linkedin_url"), lead.details.get("email")
    if url and email:
        twin = changes.many([lead_id_for(lead.workspace_id, email=None, linkedin_url=url)])
        people += [t for t in twin.values() if isinstance(t, Lead) and t.workspace_id == lead.workspace_id]
    groups = {g for person in people for g in person.source_group_ids}
    sequence_ids = {e.sequence_id for e in changes.sv.events.stored_events(groups, SourceGroup.SequenceAttached)}
    found = changes.many(LeadEnrollment.create_id(s, person.id) for s in sequence_ids for person in people)
    return [e for e in found.values() if isinstance(e, LeadEnrollment)]
