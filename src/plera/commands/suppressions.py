"""Suppressions: the workspace's list of addresses never written to, and the one-click unsubscribe.

Everything here reads the SuppressionList from the event store (the truth): the send protocol's
re-check calls `suppression_for`, and the API lists the aggregate's entries, so a suppression
is in force, and listed, as soon as its command returns.
"""

from __future__ import annotations

from datetime import datetime
from threading import Lock
from typing import Any, Literal, NamedTuple
from uuid import UUID
from weakref import WeakKeyDictionary

from eventsourcing.application import AggregateNotFoundError, Repository

from plera.aggregates.errors import NotFound
from plera.aggregates.lead import Lead
from plera.aggregates.suppressions import SKIP_REASONS, SuppressionList, entry_view
from plera.commands.changes import Changes, atomically
from plera.commands.models import Command, Line, line, text
from plera.commands.replies import open_enrollments_of_person
from plera.eventstore import EventStore
from plera.messaging.unsubscribe import read_token
from plera.projections.paging import decode_cursor, encode_cursor
from plera.runtime import Services

UNSUBSCRIBE_ACTOR = "unsubscribe"
MAX_PAGE = 500

SuppressionKind = Literal["email", "domain", "linkedin_url"]
SuppressionSource = Literal["manual", "unsubscribe", "hard_bounce", "complaint"]


class AddSuppression(Command):
    kind: SuppressionKind
    value: Line = line(
        1000, description="an email address, a domain (its subdomains are suppressed too) or a LinkedIn profile URL"
    )
    reason: str | None = text(500, blank=False, default=None, description="why, for the people who read the list")


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
    return atomically(sv, lambda changes: suppress(changes, workspace_id, cmd, actor, source=source, lead_id=lead_id))


def suppress(
    changes: Changes,
    workspace_id: UUID,
    cmd: AddSuppression,
    actor: str,
    *,
    source: SuppressionSource,
    lead_id: UUID | None = None,
) -> Added:
    at = changes.sv.clock.now()
    entry, created = _list_of(changes, workspace_id, at, actor).add(
        kind=cmd.kind, value=cmd.value, reason=cmd.reason, source=source, at=at, actor=actor, lead_id=lead_id
    )
    return Added(entry_view(entry), created)


def lift_suppression(sv: Services, workspace_id: UUID, entry_id: UUID, actor: str) -> dict[str, Any]:
    """Lifts an entry, which is then written to again; NotFound when it is not listed."""

    def decide(changes: Changes) -> dict[str, Any]:
        try:
            suppressions = changes.get(SuppressionList.create_id(workspace_id), SuppressionList, workspace_id)
        except NotFound:
            raise NotFound(f"no suppression {entry_id}") from None
        return entry_view(suppressions.lift(entry_id=entry_id, at=sv.clock.now(), actor=actor))

    return atomically(sv, decide)


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
    return atomically(
        sv, lambda changes: unsubscribe_person(changes, changes.get(lead_id, Lead, workspace_id), actor, reason)
    )


def unsubscribe_person(changes: Changes, lead: Lead, actor: str, reason: str) -> dict[str, Any]:
    at = changes.sv.clock.now()
    added = _list_of(changes, lead.workspace_id, at, actor).suppress_person(
        lead_id=lead.id,
        email=lead.details.get("email"),
        linkedin_url=lead.details.get("linkedin_url"),
        reason=reason,
        source="unsubscribe",
        at=at,
        actor=actor,
    )
    enrollments = open_enrollments_of_person(changes, lead)
    for enrollment in enrollments:
        enrollment.stop(reason="unsubscribed", at=at, actor=actor)
    return {
        "lead_id": str(lead.id),
        "suppressed": [entry_view(e) for e in added],
        "stopped": sorted(str(e.id) for e in enrollments),
    }


def _list_of(changes: Changes, workspace_id: UUID, at: datetime, actor: str) -> SuppressionList:
    try:
        return changes.get(SuppressionList.create_id(workspace_id), SuppressionList, workspace_id)
    except NotFound:  # the first suppression of the workspace starts its list
        return changes.add(SuppressionList.start(workspace_id=workspace_id, at=at, actor=actor))  # type: ignore[no-any-return]


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
