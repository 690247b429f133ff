"""LinkedIn provider events (docs/linkedin-provider.md): an accepted invite releases the person's
waiting LinkedIn messages; a received message is a reply, which stops every remaining no_reply step
of that person, in every sequence of the workspace, at once.

A delivery is taken in once: its event id is recorded first, and a repeat changes nothing.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from pydantic import BaseModel, ConfigDict, Field

from plera.aggregates.enrollment import LeadEnrollment
from plera.aggregates.lead import normalise_linkedin_url
from plera.runtime import Services

ACTOR = "webhook"


class LinkedInEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["invite_accepted", "message_received"]
    event_id: str = Field(min_length=1, max_length=200)
    account_id: str = Field(min_length=1, max_length=200)
    profile_url: str = Field(min_length=1, max_length=500)
    text: str | None = Field(default=None, max_length=20_000)
    message_id: str | None = Field(default=None, max_length=200)


def take_in(sv: Services, workspace_id: UUID, event: LinkedInEvent) -> int:
    """Applies the event to the person's open enrollments; returns how many changed (0 for a repeat)."""
    with sv.db.pool.connection() as conn:
        fresh = conn.execute(
            "INSERT INTO plera_webhook_events (workspace_id, event_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (workspace_id, f"linkedin:{event.event_id}"),
        ).rowcount
    if not fresh:
        return 0
    try:
        return sum(
            _apply(sv, enrollment_id, event) for enrollment_id in _enrollments_of(sv, workspace_id, event.profile_url)
        )
    except Exception:
        with sv.db.pool.connection() as conn:  # not taken in: the provider's retry must be
            conn.execute(
                "DELETE FROM plera_webhook_events WHERE workspace_id = %s AND event_id = %s",
                (workspace_id, f"linkedin:{event.event_id}"),
            )
        raise


def _enrollments_of(sv: Services, workspace_id: UUID, profile_url: str) -> list[UUID]:
    """The open enrollments of the person with this profile, in every sequence of the workspace."""
    wanted = normalise_linkedin_url(profile_url)
    with sv.db.pool.connection() as conn:
        rows = conn.execute(
            "SELECT e.id FROM read.leads l JOIN read.enrollments e ON e.lead_id = l.id"
            " WHERE l.workspace_id = %s AND e.status IN ('active', 'paused')"
            " AND lower(rtrim(regexp_replace(regexp_replace(btrim(l.linkedin_url), '^https?://(www\\.)?', '', 'i'),"
            " '[?#].*$', ''), '/')) = %s",
            (workspace_id, wanted),
        ).fetchall()
    return [r[0] for r in rows]


def _apply(sv: Services, enrollment_id: UUID, event: LinkedInEvent) -> int:
    for _ in range(5):
        enrollment = sv.events.get(enrollment_id, LeadEnrollment)
        at = sv.clock.now()
        if event.type == "invite_accepted":
            changed = enrollment.record_invite_accepted(at=at, actor=ACTOR)
        else:
            enrollment.record_reply(channel="linkedin", message_ref=event.message_id, at=at, actor=ACTOR)
            changed = True
        if not changed:
            return 0
        try:
            sv.events.save(enrollment)
            return 1
        except IntegrityError:  # a dispatch or another event came first: apply to what it is now
            continue
    raise RuntimeError(f"could not record {event.type} on enrollment {enrollment_id}")
