"""LinkedIn provider events (docs/linkedin-provider.md): an accepted invite releases the person's
waiting LinkedIn messages; a received message is a reply, which stops every remaining no_reply step
of that person, in every sequence of the workspace, at once, and counts on the enrollment it answers
(completed or not).

A delivery is taken in once: its event id is recorded with what it changed, and a repeat changes nothing.
"""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator

from plera.aggregates.lead import Lead, normalise_linkedin_url
from plera.commands.changes import Changes
from plera.commands.deliveries import once
from plera.commands.replies import open_enrollments_of_person, person_replied
from plera.runtime import Services
from plera.text import clean_line, clean_text

ACTOR = "webhook"


class LinkedInEvent(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["invite_accepted", "message_received"]
    event_id: str = Field(min_length=1, max_length=200)
    account_id: str = Field(min_length=1, max_length=200)
    profile_url: str = Field(min_length=1, max_length=500)
    text: str | None = Field(default=None, max_length=20_000)
    message_id: str | None = Field(default=None, max_length=200)

    # The provider relays what anyone wrote: made fit to keep before it becomes an event (plera.text).
    @field_validator("event_id", "account_id", "profile_url", "message_id")
    @classmethod
    def _one_line(cls, value: str | None) -> str | None:
        return clean_line(value) if value is not None else None

    @field_validator("text")
    @classmethod
    def _fit_text(cls, value: str | None) -> str | None:
        return clean_text(value) if value is not None else None


def take_in(sv: Services, workspace_id: UUID, event: LinkedInEvent) -> int:
    """Applies the event to the person's open enrollments; returns how many changed (0 for a repeat)."""
    return once(sv, workspace_id, f"linkedin:{event.event_id}", lambda changes: _apply(changes, workspace_id, event), 0)


def _apply(changes: Changes, workspace_id: UUID, event: LinkedInEvent) -> int:
    sv = changes.sv
    leads = [changes.get(i, Lead, workspace_id) for i in leads_with_profile(sv, workspace_id, event.profile_url)]
    at = sv.clock.now()
    if event.type == "invite_accepted":
        return sum(
            e.record_invite_accepted(at=at, actor=ACTOR)
            for lead in leads
            for e in open_enrollments_of_person(changes, lead)
        )
    sender_id = _sender_of_account(sv, workspace_id, event.account_id) if leads else None
    changed = 0
    for lead in leads:
        # The message goes in the lead's LinkedIn thread with the sender it came to (the account id names it).
        lead.record_received(
            channel="linkedin",
            sender_id=sender_id,
            message_id=event.message_id or f"linkedin:{event.event_id}",
            subject=None,
            text=event.text or "",
            classification="reply",
            in_reply_to=None,
            at=at,
            actor=ACTOR,
        )
        # The enrollment it answers is the one whose LinkedIn step went out last from that account,
        # also once completed: a message after the last LinkedIn step counts.
        replied = person_replied(
            changes, lead, channel="linkedin", message_ref=event.message_id, actor=ACTOR, sender_id=sender_id
        )
        changed += len(replied)
    return changed


def _sender_of_account(sv: Services, workspace_id: UUID, account_id: str) -> UUID | None:
    with sv.db.pool.connection() as conn:
        row = conn.execute(
            "SELECT id FROM read.catalog WHERE workspace_id = %s AND kind = 'sender_account'"
            " AND data->>'channel' = 'linkedin' AND data->>'account_id' = %s LIMIT 1",
            (workspace_id, account_id),
        ).fetchone()
    return row[0] if row else None


def leads_with_profile(sv: Services, workspace_id: UUID, profile_url: str) -> list[UUID]:
    """The workspace's leads with this LinkedIn profile (one, as leads are unique by it when they lack email)."""
    wanted = normalise_linkedin_url(profile_url)
    with sv.db.pool.connection() as conn:
        rows = conn.execute(
            "SELECT id FROM read.leads WHERE workspace_id = %s"
            " AND lower(rtrim(regexp_replace(regexp_replace(btrim(linkedin_url), '^https?://(www\\.)?', '', 'i'),"
            " '[?#].*$', ''), '/')) = %s",
            (workspace_id, wanted),
        ).fetchall()
    return [r[0] for r in rows]
