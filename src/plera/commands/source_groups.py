"""Source groups and their leads: create, import (idempotent), mark enriched."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from plera.aggregates.base import PleraAggregate
from plera.aggregates.lead import Lead, SourceGroup, lead_id_for
from plera.aggregates.run import Run
from plera.commands.enrollments import enroll_arrivals
from plera.commands.lead_import import ParsedRows, Rejection
from plera.commands.models import Command, Line, line
from plera.runtime import Services

CHUNK = 1000
_ATTEMPTS = 3  # a concurrent import of the same person collides once, then sees the lead


class CreateSourceGroup(Command):
    name: Line = line()


def create_source_group(
    sv: Services, workspace_id: UUID, run_id: UUID, cmd: CreateSourceGroup, actor: str
) -> SourceGroup:
    run = sv.events.get(run_id, Run, workspace_id)
    run.check_open()
    group = SourceGroup.create(workspace_id=workspace_id, run_id=run_id, name=cmd.name, at=sv.clock.now(), actor=actor)
    sv.events.save(group)
    return group


@dataclass(frozen=True)
class ImportResult:
    imported: int
    existing: int
    lead_ids: list[UUID]
    rejected: list[Rejection]
    enrolled: int
    ignored_columns: list[str] = field(default_factory=list)
    dry_run: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "imported": self.imported,
            "existing": self.existing,
            "lead_ids": [str(i) for i in self.lead_ids],
            "rejected": [r.as_dict() for r in self.rejected],
            "enrolled": self.enrolled,
            "ignored_columns": self.ignored_columns,
            "dry_run": self.dry_run,
        }


def import_leads(
    sv: Services, workspace_id: UUID, group_id: UUID, parsed: ParsedRows, actor: str, *, dry_run: bool = False
) -> ImportResult:
    """Adds the rows' people to the group. A person already in the workspace is linked, not copied.

    Rows are saved CHUNK at a time: one append of tens of thousands of events can stall the driver
    (psycopg's pipeline with a very large message), and importing again is idempotent, so a file
    cut short by a crash completes when it is sent again. The group is loaded once and kept from
    chunk to chunk (loading a group of 100,000 leads per chunk made a large import quadratic); when
    another writer changed it meanwhile, the version check refuses the chunk, and it is decided
    again on what is stored. A dry run decides every row the same way and records nothing: the
    leads it would create are carried from chunk to chunk in memory, so a person named twice counts
    as the real import would count them.
    """
    imported = existing = 0
    lead_ids: list[UUID] = []
    planned: dict[UUID, Lead] = {}
    group = open_group(sv, workspace_id, group_id)
    for start in range(0, len(parsed.rows), CHUNK):
        chunk = ParsedRows(parsed.rows[start : start + CHUNK])
        for attempt in range(_ATTEMPTS):
            try:
                decided, touched = decide_chunk(sv, group, chunk, actor, planned)
                if dry_run:
                    planned.update(decided.created)
                else:
                    sv.events.save(*touched)
                break
            except IntegrityError:
                group = open_group(sv, workspace_id, group_id)
                if attempt == _ATTEMPTS - 1:
                    raise
        imported, existing = imported + decided.imported, existing + decided.existing
        lead_ids += decided.lead_ids
    enrolled = 0
    if not dry_run:
        enrolled = enroll_arrivals(sv, group, lead_ids, actor) if group.eligible else 0
    return ImportResult(imported, existing, lead_ids, parsed.rejected, enrolled, parsed.ignored_columns, dry_run)


def open_group(sv: Services, workspace_id: UUID, group_id: UUID) -> SourceGroup:
    """The group to import into, as stored; its run must be open."""
    group = sv.events.get(group_id, SourceGroup, workspace_id)
    sv.events.get(group.run_id, Run, workspace_id).check_open()
    return group


@dataclass
class Decided:
    """A chunk's leads decided on loaded aggregates, not yet saved nor added to the group."""

    imported: int
    existing: int
    lead_ids: list[UUID]  # each accepted row's lead, in row order
    created: dict[UUID, Lead]
    leads: list[Lead]  # what to save: the new leads, the linked leads that changed
    identities: set[UUID]  # every id the chunk's people were looked up by
    at: datetime

    def join(self, group: SourceGroup, actor: str) -> list[PleraAggregate]:
        """Adds the leads to the group (in memory): what to save."""
        group.add_leads(lead_ids=self.lead_ids, at=self.at, actor=actor)
        return [group, *self.leads]


def decide_chunk(
    sv: Services, group: SourceGroup, parsed: ParsedRows, actor: str, planned: dict[UUID, Lead] | None = None
) -> tuple[Decided, list[PleraAggregate]]:
    """Decides a chunk's rows and adds them to `group` (in memory): the decision, and what to save."""
    decided = decide_leads(sv, group.workspace_id, group.id, parsed, actor, planned)
    return decided, decided.join(group, actor)


def decide_leads(
    sv: Services,
    workspace_id: UUID,
    group_id: UUID,
    parsed: ParsedRows,
    actor: str,
    planned: dict[UUID, Lead] | None = None,
) -> Decided:
    """Decides a chunk's rows: new people become leads, known ones are linked to the group.

    `planned` holds the leads a dry run created in earlier chunks (not stored)."""
    planned = planned or {}
    at = sv.clock.now()
    candidates = [_identities(workspace_id, row) for _, row in parsed.rows]
    identities = {i for ids in candidates for i in ids}
    known = sv.events.existing(identities)
    existing = sv.events.load_many({next(i for i in ids if i in known) for ids in candidates if known & set(ids)})
    existing.update(planned)
    created: dict[UUID, Lead] = {}
    changed: dict[UUID, Lead] = {}
    lead_ids: list[UUID] = []
    imported = linked = 0
    for (_, row), ids in zip(parsed.rows, candidates, strict=True):
        found_id = next((i for i in ids if i in known or i in planned or i in created), None)
        if found_id is None:
            lead = Lead.import_new(workspace_id=workspace_id, source_group_id=group_id, details=row, at=at, actor=actor)
            created[lead.id] = lead
            imported += 1
        else:
            lead = created.get(found_id) or existing[found_id]
            if lead.add_to_group(source_group_id=group_id, details=row, at=at, actor=actor) and found_id in existing:
                changed[found_id] = lead
            linked += 1
        lead_ids.append(lead.id)
    return Decided(imported, linked, lead_ids, created, [*created.values(), *changed.values()], identities, at)


def _identities(workspace_id: UUID, row: dict[str, str]) -> list[UUID]:
    """The ids this person may already have: by email first, then by LinkedIn URL."""
    ids = [lead_id_for(workspace_id, email=row.get("email"), linkedin_url=row.get("linkedin_url"))]
    if row.get("email") and row.get("linkedin_url"):
        ids.append(lead_id_for(workspace_id, email=None, linkedin_url=row["linkedin_url"]))
    return ids


def mark_enriched(sv: Services, workspace_id: UUID, group_id: UUID, actor: str) -> int:
    """Makes the group eligible, and enrolls its leads into the running sequences that draw on it."""
    group = sv.events.get(group_id, SourceGroup, workspace_id)
    if group.mark_enriched(at=sv.clock.now(), actor=actor):
        sv.events.save(group)
    return enroll_arrivals(sv, group, group.lead_ids, actor)
