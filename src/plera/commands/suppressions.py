"""Suppressions: the workspace's list of addresses never written to, and the one-click unsubscribe.

Everything here reads the SuppressionList from the event store (the truth): the send protocol's
re-check calls `suppression_for`, and the API lists the aggregate's entries, so a suppression
is in force, and listed, as soon as its command returns.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from datetime import datetime
from threading import Lock
from typing import Any, Literal, NamedTuple, TypeVar
from uuid import UUID
from weakref import WeakKeyDictionary

from eventsourcing.application import AggregateNotFoundError, Repository
from eventsourcing.domain import Snapshot
from eventsourcing.persistence import IntegrityError
from pydantic import Field

from plera.aggregates.base import PleraAggregate
from plera.aggregates.enrollment import LeadEnrollment
from plera.aggregates.errors import NotFound
from plera.aggregates.lead import Lead, lead_id_for
from plera.aggregates.suppressions import SKIP_REASONS, SuppressionList, entry_view
from plera.commands.models import Command
from plera.eventstore import EventStore
from plera.messaging.unsubscribe import read_token
from plera.projections.paging import decode_cursor, encode_cursor
from plera.runtime import Services

T = TypeVar("T")

UNSUBSCRIBE_ACTOR = "unsubscribe"
MAX_PAGE = 500
SNAPSHOT_EVERY = 50
_ATTEMPTS = 10  # a busy list (bounces, unsubscribes and people at once) may lose a version check or two

SuppressionKind = Literal["email", "domain", "linkedin_url"]
SuppressionSource = Literal["manual", "unsubscribe", "hard_bounce", "complaint"]


class AddSuppression(Command):
    kind: SuppressionKind
    value: str = Field(
        min_length=1,
        max_length=1000,
        description="an email address, a domain (its subdomains are suppressed too) or a LinkedIn profile URL",
    )
    reason: str | None = Field(default=None, max_length=500, description="why, for the people who read the list")


class Added(NamedTuple):
    entry: dict[str, Any]
    created: bool  # False when the (kind, value) was listed already: nothing was recorded


def add_suppression(
    sv: Services,
    workspace_id: UUID,
    cmd: AddSuppression,
    actor: str,
    *,
    source: SuppressionSource = "manual",
    lead_id: UUID | None = None,
) -> Added:
    """Adds (kind, value) to the list; adding one that is listed is a no-op answering the entry."""

    def attempt() -> Added:
        at = sv.clock.now()
        suppressions = _stored_or_new(sv, workspace_id, at, actor)
        entry, created = suppressions.add(
            kind=cmd.kind, value=cmd.value, reason=cmd.reason, source=source, at=at, actor=actor, lead_id=lead_id
        )
        _save(sv, suppressions)
        return Added(entry_view(entry), created)

    return _retrying(attempt)


def lift_suppression(sv: Services, workspace_id: UUID, entry_id: UUID, actor: str) -> dict[str, Any]:
    """Lifts an entry, which is then written to again; NotFound when it is not listed."""

    def attempt() -> dict[str, Any]:
        try:
            suppressions = sv.events.get(SuppressionList.create_id(workspace_id), SuppressionList, workspace_id)
        except NotFound:
            raise NotFound(f"no suppression {entry_id}") from None
        entry = suppressions.lift(entry_id=entry_id, at=sv.clock.now(), actor=actor)
        _save(sv, suppressions)
        return entry_view(entry)

    return _retrying(attempt)


def list_suppressions(
    sv: Services,
    workspace_id: UUID,
    *,
    kind: SuppressionKind | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """A page of the list, oldest first: {items, next_cursor}. A bad cursor raises BadCursor."""
    after = decode_cursor(cursor) if cursor else None
    try:
        suppressions = sv.events.get(SuppressionList.create_id(workspace_id), SuppressionList, workspace_id)
    except NotFound:
        return {"items": [], "next_cursor": None}
    items, more = suppressions.page(kind=kind, limit=max(1, min(limit, MAX_PAGE)), after=after)
    last = items[-1] if items else None
    next_cursor = encode_cursor(last["created_at"], last["id"]) if more and last else None
    return {"items": [entry_view(e) for e in items], "next_cursor": next_cursor}


def suppression_for(
    sv: Services, workspace_id: UUID, *, email: str | None, linkedin_url: str | None
) -> dict[str, Any] | None:
    """The entry that suppresses this person, or None: the send protocol's re-check.

    Read from the event store, so every suppression committed before the call counts. The list
    is kept in memory between calls and brought up to date with the events stored since (one
    small query), since a list with years of bounces is large to load on every send. The answer
    is the entry's view plus `skip_reason` (unsubscribed, bounced, complained or suppressed).
    """
    suppressions = _current(sv, workspace_id)
    found = None if suppressions is None else suppressions.match(email, linkedin_url)
    if found is None:
        return None
    return entry_view(found) | {"skip_reason": SKIP_REASONS[found["source"]]}


# ---- one-click unsubscribe (RFC 8058)


def unsubscriber(sv: Services, token: str) -> Lead:
    """The lead a genuine unsubscribe token names; NotFound for any other token, saying nothing of why."""
    found = read_token(sv.signing_key, token)
    if found is None:
        raise NotFound("no such unsubscribe link")
    workspace_id, lead_id = found
    try:
        return sv.events.get(lead_id, Lead, workspace_id)
    except NotFound:
        raise NotFound("no such unsubscribe link") from None


def unsubscribe(sv: Services, token: str) -> dict[str, Any]:
    """The one-click link: unsubscribes the lead the token names (NotFound for a bad token)."""
    lead = unsubscriber(sv, token)
    return unsubscribe_lead(sv, lead.workspace_id, lead.id)


def unsubscribe_lead(
    sv: Services,
    workspace_id: UUID,
    lead_id: UUID,
    *,
    actor: str = UNSUBSCRIBE_ACTOR,
    reason: str = "unsubscribe link",
) -> dict[str, Any]:
    """Suppresses the person (email address and LinkedIn URL) and stops their open enrollments in
    every sequence, in one append. Repeating it changes nothing. NotFound for an unknown lead."""
    lead = sv.events.get(lead_id, Lead, workspace_id)

    def attempt() -> dict[str, Any]:
        at = sv.clock.now()
        suppressions = _stored_or_new(sv, workspace_id, at, actor)
        added = suppressions.suppress_person(
            lead_id=lead.id,
            email=lead.details.get("email"),
            linkedin_url=lead.details.get("linkedin_url"),
            reason=reason,
            source="unsubscribe",
            at=at,
            actor=actor,
        )
        enrollments = open_enrollments_of_person(sv, lead)
        for enrollment in enrollments:
            enrollment.stop(reason="unsubscribed", at=at, actor=actor)
        _save(sv, suppressions, *enrollments)
        return {
            "lead_id": str(lead.id),
            "suppressed": [entry_view(e) for e in added],
            "stopped": sorted(str(e.id) for e in enrollments),
        }

    return _retrying(attempt)


def open_enrollments_of_person(sv: Services, lead: Lead) -> list[LeadEnrollment]:
    """The open enrollments of the lead, in every sequence, and of the lead the same person would be
    if imported by LinkedIn URL alone (a lead is named by its email, else its URL)."""
    leads = [lead]
    url, email = lead.details.get("linkedin_url"), lead.details.get("email")
    if url and email:
        twin_id = lead_id_for(lead.workspace_id, email=None, linkedin_url=url)
        twin = sv.events.load_many([twin_id]).get(twin_id)
        if isinstance(twin, Lead) and twin.workspace_id == lead.workspace_id:
            leads.append(twin)
    groups = sv.events.load_many({g for person in leads for g in person.source_group_ids})
    sequence_ids = {s for group in groups.values() for s in group.sequence_ids}
    found = sv.events.load_many(LeadEnrollment.create_id(s, person.id) for s in sequence_ids for person in leads)
    return [e for e in found.values() if isinstance(e, LeadEnrollment) and e.is_open]


# ---- loading and saving the list


def _stored_or_new(sv: Services, workspace_id: UUID, at: datetime, actor: str) -> SuppressionList:
    try:
        return sv.events.get(SuppressionList.create_id(workspace_id), SuppressionList, workspace_id)
    except NotFound:  # the first suppression of the workspace starts its list
        return SuppressionList.start(workspace_id=workspace_id, at=at, actor=actor)


def _retrying(attempt: Callable[[], T]) -> T:
    """Loads, changes and saves again when another request changed the list (or an enrollment)
    between the load and the save: the optimistic version check refused the append."""
    for n in range(1, _ATTEMPTS):
        try:
            return attempt()
        except IntegrityError:
            time.sleep(random.uniform(0, 0.01 * n))  # spread the racers out
    return attempt()


def _save(sv: Services, suppressions: SuppressionList, *others: PleraAggregate) -> None:
    changed = [a for a in (suppressions, *others) if a.pending_events]
    if not changed:
        return
    before = suppressions.version - len(suppressions.pending_events)
    sv.events.save(*changed)
    _snapshot_if_due(sv, suppressions, before)


def _snapshot_if_due(sv: Services, suppressions: SuppressionList, before: int) -> None:
    """A snapshot every SNAPSHOT_EVERY versions, so a long list loads quickly. Taken here only until
    the application's `snapshotting_intervals` (eventstore.py) lists SuppressionList itself."""
    app = sv.events.app
    if app.snapshots is None or SuppressionList in app.snapshotting_intervals:
        return
    if suppressions.version // SNAPSHOT_EVERY > before // SNAPSHOT_EVERY:
        with contextlib.suppress(IntegrityError):  # another process took the same one
            app.snapshots.put([Snapshot.take(suppressions)])


# The lists as last read, per event store, each brought up to date from the store on every read.
_readers: WeakKeyDictionary[EventStore, Repository[UUID]] = WeakKeyDictionary()
_readers_lock = Lock()


def _current(sv: Services, workspace_id: UUID) -> SuppressionList | None:
    """The list as stored now, for reading only: the object is shared between calls and threads."""
    with _readers_lock:
        reader = _readers.get(sv.events)
        if reader is None:
            app = sv.events.app
            reader = Repository(
                app.events,
                snapshot_store=app.snapshots,
                cache_maxsize=1000,
                fastforward=True,
                deepcopy_from_cache=False,
            )
            _readers[sv.events] = reader
    try:
        found: object = reader.get(SuppressionList.create_id(workspace_id))
    except AggregateNotFoundError:
        return None
    if not isinstance(found, SuppressionList) or found.workspace_id != workspace_id:
        return None
    return found
