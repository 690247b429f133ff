"""Lead and SourceGroup. A lead is one person in a workspace, unique by email (else LinkedIn URL)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4, uuid5

from plera.aggregates.base import PleraAggregate
from plera.aggregates.channels import Channel
from plera.aggregates.errors import InvalidValue
from plera.aggregates.lead_inbox import LeadInbox

LEAD_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "linkedin_url",
    "company",
    "title",
    "phone",
    "country",
    "city",
    "timezone",
)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def normalise_linkedin_url(url: str) -> str:
    """One spelling per profile: no scheme, no www, no query, no trailing slash, lower case."""
    text = url.strip().lower().split("?", 1)[0].split("#", 1)[0]
    for prefix in ("https://", "http://"):
        text = text.removeprefix(prefix)
    return text.removeprefix("www.").rstrip("/")


def lead_id_for(workspace_id: UUID, *, email: str | None, linkedin_url: str | None) -> UUID:
    email = normalise_email(email or "")
    url = normalise_linkedin_url(linkedin_url or "")
    if email:
        return uuid5(workspace_id, "email:" + email)
    if url:
        return uuid5(workspace_id, "linkedin:" + url)
    raise InvalidValue("a lead needs an email or a LinkedIn URL")


class Lead(LeadInbox):
    class LeadImported(PleraAggregate.Created):
        workspace_id: UUID
        source_group_id: UUID
        details: dict[str, str]

    def __init__(self, workspace_id: UUID, source_group_id: UUID, details: dict[str, str]) -> None:
        self.workspace_id = workspace_id
        self.details = dict(details)
        self.source_group_ids = [source_group_id]

    @classmethod
    def import_new(
        cls, *, workspace_id: UUID, source_group_id: UUID, details: dict[str, str], at: datetime, actor: str
    ) -> Lead:
        unknown = set(details) - set(LEAD_FIELDS)
        if unknown:
            raise InvalidValue(f"unknown lead fields: {', '.join(sorted(unknown))}")
        present = {k: v for k, v in details.items() if v}
        lead_id = lead_id_for(workspace_id, email=present.get("email"), linkedin_url=present.get("linkedin_url"))
        return cls._record_created(
            cls.LeadImported,
            id=lead_id,
            at=at,
            actor=actor,
            workspace_id=workspace_id,
            source_group_id=source_group_id,
            details=present,
        )

    class LeadAddedToGroup(PleraAggregate.Event):
        source_group_id: UUID
        filled: dict[str, str]

        def apply(self, lead: Lead) -> None:
            if self.source_group_id not in lead.source_group_ids:
                lead.source_group_ids.append(self.source_group_id)
            lead.details.update(self.filled)

    def add_to_group(self, *, source_group_id: UUID, details: dict[str, str], at: datetime, actor: str) -> bool:
        """Links a re-imported person; fills fields the lead lacked. False when nothing changed."""
        filled = {k: v for k, v in details.items() if v and k in LEAD_FIELDS and not self.details.get(k)}
        if source_group_id in self.source_group_ids and not filled:
            return False
        self._record(self.LeadAddedToGroup, at=at, actor=actor, source_group_id=source_group_id, filled=filled)
        return True

    def address_for(self, channel: Channel) -> str | None:
        """The lead's address on a step's channel; a lead without one is not eligible for it."""
        if channel is Channel.EMAIL:
            return self.details.get("email")
        return self.details.get("linkedin_url")

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.details.get("first_name"), self.details.get("last_name")) if p)

    def as_dict(self) -> dict[str, Any]:
        return {"id": str(self.id), **{f: self.details.get(f) for f in LEAD_FIELDS}}


class SourceGroup(PleraAggregate):
    # The leads' ids as a set, for add_leads: building it from the list at every import chunk made a
    # 200,000-row import quadratic. A slot, not an attribute, so snapshots (vars()) leave it out.
    __slots__ = ("_members",)

    class SourceGroupCreated(PleraAggregate.Created):
        workspace_id: UUID
        run_id: UUID
        name: str

    def __init__(self, workspace_id: UUID, run_id: UUID, name: str) -> None:
        self.workspace_id = workspace_id
        self.run_id = run_id
        self.name = name
        self.enriched = False
        self.lead_ids: list[UUID] = []
        self.sequence_ids: list[UUID] = []

    @classmethod
    def create(cls, *, workspace_id: UUID, run_id: UUID, name: str, at: datetime, actor: str) -> SourceGroup:
        if not name.strip():
            raise InvalidValue("a source group needs a name")
        name = name.strip()
        return cls._record_created(
            cls.SourceGroupCreated, id=uuid4(), at=at, actor=actor, workspace_id=workspace_id, run_id=run_id, name=name
        )

    class LeadsAdded(PleraAggregate.Event):
        lead_ids: list[UUID]

        def apply(self, group: SourceGroup) -> None:
            group.lead_ids.extend(self.lead_ids)
            members = getattr(group, "_members", None)
            if members is not None:
                members.update(self.lead_ids)

    def add_leads(self, *, lead_ids: list[UUID], at: datetime, actor: str) -> list[UUID]:
        """Adds the leads not yet in the group, and returns them."""
        known = self._known_leads()
        new = [i for i in dict.fromkeys(lead_ids) if i not in known]
        if new:
            self._record(self.LeadsAdded, at=at, actor=actor, lead_ids=new)
        return new

    def _known_leads(self) -> set[UUID]:
        members: set[UUID] | None = getattr(self, "_members", None)
        if members is None or len(members) != len(self.lead_ids):  # not built yet (a load, a snapshot)
            members = self._members = set(self.lead_ids)
        return members

    class SourceGroupEnriched(PleraAggregate.Event):
        def apply(self, group: SourceGroup) -> None:
            group.enriched = True

    def mark_enriched(self, *, at: datetime, actor: str) -> bool:
        if self.enriched:
            return False
        self._record(self.SourceGroupEnriched, at=at, actor=actor)
        return True

    @property
    def eligible(self) -> bool:
        """A group's leads may be enrolled once the group is enriched."""
        return self.enriched

    class SequenceAttached(PleraAggregate.Event):
        sequence_id: UUID

        def apply(self, group: SourceGroup) -> None:
            group.sequence_ids.append(self.sequence_id)

    def attach_sequence(self, *, sequence_id: UUID, at: datetime, actor: str) -> None:
        """Remembers a sequence that draws on this group (kept for good: history follows it)."""
        if sequence_id not in self.sequence_ids:
            self._record(self.SequenceAttached, at=at, actor=actor, sequence_id=sequence_id)
