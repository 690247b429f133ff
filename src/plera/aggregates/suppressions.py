"""SuppressionList: the addresses a workspace never writes to, one list per workspace.

An entry suppresses an email address, a whole domain (and its subdomains) or a LinkedIn profile.
An unsubscribe suppresses the person (their email address and LinkedIn URL); a hard bounce the
email address only. The send protocol's re-check asks `is_suppressed` of the list as stored: it
is the truth, not a read model. See docs/decisions/0008-suppressions.md.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from plera.aggregates.base import PleraAggregate
from plera.aggregates.errors import InvalidAddress, InvalidValue, NotFound
from plera.aggregates.lead import normalise_email, normalise_linkedin_url

KINDS = ("email", "domain", "linkedin_url")
SOURCES = ("manual", "unsubscribe", "hard_bounce", "complaint")
# What a skipped or stopped step records when a suppression applies, by the entry's source.
SKIP_REASONS = {
    "manual": "suppressed",
    "unsubscribe": "unsubscribed",
    "hard_bounce": "bounced",
    "complaint": "complained",
}

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")  # as loose as a lead import's check
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$)(?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]{{1,59}})$")
_PROFILE = re.compile(r"^(?:[a-z0-9-]+\.)?linkedin\.com/(?:in|pub)/[^/\s]+(?:/.*)?$")


def normalise_domain(domain: str) -> str:
    return domain.strip().lower().removeprefix("@").rstrip(".")


def normalised(kind: str, value: str) -> str:
    """The one spelling of a value that entries and look-ups share."""
    if kind == "email":
        return normalise_email(value)
    if kind == "domain":
        return normalise_domain(value)
    if kind == "linkedin_url":
        return normalise_linkedin_url(value)
    raise InvalidValue(f"a suppression's kind is one of {', '.join(KINDS)}, not {kind!r}")


def checked(kind: str, value: str) -> str:
    """The normalised value, once it looks like what its kind says; else InvalidAddress."""
    text = normalised(kind, value)
    if kind == "email" and not _EMAIL.match(text):
        raise InvalidAddress("invalid_email", f"not an email address: {value!r}")
    if kind == "domain" and not _DOMAIN.match(text):
        raise InvalidAddress("invalid_domain", f"not a domain name: {value!r}")
    if kind == "linkedin_url" and not _PROFILE.match(text):
        raise InvalidAddress("invalid_linkedin_url", f"not a LinkedIn profile URL (linkedin.com/in/…): {value!r}")
    return text


def domains_of(email: str) -> list[str]:
    """The email's domain and each parent domain, most specific first: a.b.example.com … example.com, com."""
    labels = email.rpartition("@")[2].split(".")
    return [".".join(labels[i:]) for i in range(len(labels)) if labels[i]]


class SuppressionList(PleraAggregate):
    @staticmethod
    def create_id(workspace_id: UUID) -> UUID:
        return uuid5(workspace_id, "suppressions")  # one list per workspace: a second one collides

    class SuppressionListCreated(PleraAggregate.Created):
        workspace_id: UUID

    def __init__(self, workspace_id: UUID) -> None:
        self.workspace_id = workspace_id
        self.entries: dict[str, dict[str, Any]] = {}  # "kind:value" → entry, in the order added
        self.keys: dict[str, str] = {}  # entry id → "kind:value"

    @classmethod
    def start(cls, *, workspace_id: UUID, at: datetime, actor: str) -> SuppressionList:
        return cls._record_created(
            cls.SuppressionListCreated, id=cls.create_id(workspace_id), at=at, actor=actor, workspace_id=workspace_id
        )

    def entry_id(self, kind: str, value: str) -> UUID:
        """Derived from the list and the normalised (kind, value): lifting and adding again keeps the id."""
        return uuid5(self.id, f"{kind}:{value}")

    # ---- adding and lifting

    class SuppressionAdded(PleraAggregate.Event):
        entry_id: UUID
        kind: str
        value: str
        reason: str | None
        source: str
        lead_id: UUID | None

        def apply(self, suppressions: SuppressionList) -> None:
            key = f"{self.kind}:{self.value}"
            suppressions.entries[key] = {
                "id": self.entry_id,
                "kind": self.kind,
                "value": self.value,
                "reason": self.reason,
                "source": self.source,
                "created_at": self.timestamp,
                "lead_id": self.lead_id,
            }
            suppressions.keys[str(self.entry_id)] = key

    def add(
        self,
        *,
        kind: str,
        value: str,
        reason: str | None,
        source: str,
        at: datetime,
        actor: str,
        lead_id: UUID | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """The entry for (kind, value), and whether it is new: adding one that is listed changes nothing."""
        return self._add(kind, checked(kind, value), reason, source, at, actor, lead_id)

    def suppress_person(
        self,
        *,
        lead_id: UUID,
        email: str | None,
        linkedin_url: str | None,
        reason: str | None,
        source: str,
        at: datetime,
        actor: str,
    ) -> list[dict[str, Any]]:
        """Suppresses a lead's email address and LinkedIn URL (those it has); returns the new entries.

        The lead's own spellings were accepted at import, so they are normalised, not checked
        again: refusing one here would leave a person who asked to be left alone reachable.
        """
        wanted = [("email", email), ("linkedin_url", linkedin_url)]
        added = [
            self._add(kind, normalised(kind, text), reason, source, at, actor, lead_id) for kind, text in wanted if text
        ]
        return [entry for entry, new in added if new]

    def _add(
        self,
        kind: str,
        value: str,
        reason: str | None,
        source: str,
        at: datetime,
        actor: str,
        lead_id: UUID | None,
    ) -> tuple[dict[str, Any], bool]:
        if source not in SOURCES:
            raise InvalidValue(f"a suppression's source is one of {', '.join(SOURCES)}, not {source!r}")
        if not value:
            raise InvalidValue(f"a suppressed {kind} may not be blank")
        key = f"{kind}:{value}"
        if key in self.entries:
            return self.entries[key], False
        entry_id = self.entry_id(kind, value)
        self._record(
            self.SuppressionAdded,
            at=at,
            actor=actor,
            entry_id=entry_id,
            kind=kind,
            value=value,
            reason=reason or None,
            source=source,
            lead_id=lead_id,
        )
        return self.entries[key], True

    class SuppressionLifted(PleraAggregate.Event):
        entry_id: UUID
        kind: str
        value: str

        def apply(self, suppressions: SuppressionList) -> None:
            key = suppressions.keys.pop(str(self.entry_id))
            del suppressions.entries[key]

    def lift(self, *, entry_id: UUID, at: datetime, actor: str) -> dict[str, Any]:
        """Lifts an entry (NotFound when it is not listed); returns it as it was."""
        entry = self.entry(entry_id)
        self._record(
            self.SuppressionLifted, at=at, actor=actor, entry_id=entry_id, kind=entry["kind"], value=entry["value"]
        )
        return entry

    # ---- reading

    def entry(self, entry_id: UUID) -> dict[str, Any]:
        key = self.keys.get(str(entry_id))
        if key is None:
            raise NotFound(f"no suppression {entry_id}")
        return self.entries[key]

    def match(self, email: str | None, linkedin_url: str | None) -> dict[str, Any] | None:
        """The entry that suppresses this person: their email address, its domain or a parent
        domain, or their LinkedIn URL (checked in that order). A few dict look-ups, whatever the size."""
        entries = self.entries
        if email and (address := normalise_email(email)):
            for key in (f"email:{address}", *(f"domain:{d}" for d in domains_of(address))):
                if (found := entries.get(key)) is not None:
                    return found
        if linkedin_url and (url := normalise_linkedin_url(linkedin_url)):
            return entries.get(f"linkedin_url:{url}")
        return None

    def is_suppressed(self, email: str | None, linkedin_url: str | None) -> str | None:
        """Why this person may not be written to (`unsubscribed`, `bounced`, `complained`, `suppressed`), or None."""
        found = self.match(email, linkedin_url)
        return None if found is None else SKIP_REASONS[found["source"]]

    def page(
        self, *, kind: str | None, limit: int, after: tuple[datetime, UUID] | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """Entries by (created_at, id), those after `after`, up to `limit`; and whether more follow."""
        chosen = [e for e in self.entries.values() if kind is None or e["kind"] == kind]
        chosen.sort(key=_order)
        if after is not None:
            chosen = [e for e in chosen if _order(e) > after]
        return chosen[:limit], len(chosen) > limit


def _order(entry: dict[str, Any]) -> tuple[datetime, UUID]:
    return entry["created_at"], entry["id"]


def entry_view(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry as the API and the dispatcher see it: JSON-able."""
    return {
        "id": str(entry["id"]),
        "kind": entry["kind"],
        "value": entry["value"],
        "reason": entry["reason"],
        "source": entry["source"],
        "created_at": entry["created_at"].isoformat(),
        "lead_id": None if entry["lead_id"] is None else str(entry["lead_id"]),
    }
