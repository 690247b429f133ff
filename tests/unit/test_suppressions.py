from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Snapshot

from plera.aggregates.errors import InvalidAddress, InvalidValue, NotFound
from plera.aggregates.suppressions import SuppressionList, domains_of, entry_view


def new_list(at: datetime) -> SuppressionList:
    return SuppressionList.start(workspace_id=uuid4(), at=at, actor="test")


def add(suppressions: SuppressionList, at: datetime, kind: str, value: str, **kw: Any) -> tuple[dict[str, Any], bool]:
    return suppressions.add(
        kind=kind, value=value, reason=kw.pop("reason", None), source=kw.pop("source", "manual"), at=at, actor="t", **kw
    )


def test_one_list_per_workspace_named_by_the_workspace(at):
    workspace_id = uuid4()
    suppressions = SuppressionList.start(workspace_id=workspace_id, at=at, actor="test")
    assert suppressions.id == SuppressionList.create_id(workspace_id)
    assert suppressions.workspace_id == workspace_id
    assert suppressions.entries == {}


@pytest.mark.parametrize(
    ("kind", "value", "stored"),
    [
        ("email", "  Ada.Lovelace@Example.COM ", "ada.lovelace@example.com"),
        ("domain", "@Example.COM", "example.com"),
        ("domain", "mail.example.co.uk.", "mail.example.co.uk"),
        ("linkedin_url", "https://www.LinkedIn.com/in/Ada-L/?trk=x", "linkedin.com/in/ada-l"),
        ("linkedin_url", "http://de.linkedin.com/in/ada#top", "de.linkedin.com/in/ada"),
    ],
)
def test_values_are_stored_in_one_spelling(at, kind, value, stored):
    entry, created = add(new_list(at), at, kind, value)
    assert created is True
    assert (entry["kind"], entry["value"]) == (kind, stored)


@pytest.mark.parametrize(
    ("kind", "value", "code"),
    [
        ("email", "ada", "invalid_email"),
        ("email", "ada@example", "invalid_email"),
        ("email", "a da@example.com", "invalid_email"),
        ("domain", "example", "invalid_domain"),
        ("domain", "exa mple.com", "invalid_domain"),
        ("domain", "-example.com", "invalid_domain"),
        ("domain", "ada@example.com", "invalid_domain"),
        ("linkedin_url", "https://example.com/in/ada", "invalid_linkedin_url"),
        ("linkedin_url", "https://www.linkedin.com/", "invalid_linkedin_url"),
        ("linkedin_url", "https://www.linkedin.com/company/acme", "invalid_linkedin_url"),
        ("linkedin_url", "https://notlinkedin.com/in/ada", "invalid_linkedin_url"),
    ],
)
def test_a_value_that_does_not_look_like_its_kind_is_refused(at, kind, value, code):
    suppressions = new_list(at)
    with pytest.raises(InvalidAddress) as refused:
        add(suppressions, at, kind, value)
    assert refused.value.code == code and refused.value.status == 422
    assert suppressions.entries == {} and suppressions.version == 1


def test_an_unknown_kind_or_source_is_refused(at):
    with pytest.raises(InvalidValue):
        add(new_list(at), at, "phone", "+49 30 123")
    with pytest.raises(InvalidValue):
        add(new_list(at), at, "email", "ada@example.com", source="gossip")


def test_adding_a_listed_value_again_changes_nothing_and_answers_the_entry(at):
    suppressions = new_list(at)
    first, _ = add(suppressions, at, "email", "ada@example.com", reason="asked by phone")
    again, created = add(suppressions, at + timedelta(hours=1), "email", " ADA@example.com", reason="other")
    assert created is False
    assert again == first and again["reason"] == "asked by phone"
    assert suppressions.version == 2


def test_a_lifted_entry_no_longer_applies_and_may_be_added_again_under_its_id(at):
    suppressions = new_list(at)
    entry, _ = add(suppressions, at, "email", "ada@example.com")
    lifted = suppressions.lift(entry_id=entry["id"], at=at, actor="t")
    assert lifted["value"] == "ada@example.com"
    assert suppressions.is_suppressed("ada@example.com", None) is None
    with pytest.raises(NotFound):
        suppressions.lift(entry_id=entry["id"], at=at, actor="t")
    with pytest.raises(NotFound):
        suppressions.entry(uuid4())
    again, created = add(suppressions, at + timedelta(days=1), "email", "ada@example.com")
    assert created is True and again["id"] == entry["id"]
    assert again["created_at"] == at + timedelta(days=1)


def test_an_email_is_suppressed_by_its_address(at):
    suppressions = new_list(at)
    add(suppressions, at, "email", "ada@example.com")
    assert suppressions.is_suppressed("ADA@example.com ", None) == "suppressed"
    assert suppressions.is_suppressed("bob@example.com", None) is None
    assert suppressions.is_suppressed(None, None) is None


def test_an_email_is_suppressed_by_its_domain_and_any_parent_domain(at):
    suppressions = new_list(at)
    add(suppressions, at, "domain", "example.com")
    assert suppressions.is_suppressed("ada@example.com", None) == "suppressed"
    assert suppressions.is_suppressed("ada@mail.eu.Example.com", None) == "suppressed"
    assert suppressions.is_suppressed("ada@example.org", None) is None
    assert suppressions.is_suppressed("ada@notexample.com", None) is None
    assert suppressions.is_suppressed("ada@example.com.evil.org", None) is None


def test_a_domain_does_not_suppress_its_parent(at):
    suppressions = new_list(at)
    add(suppressions, at, "domain", "mail.example.com")
    assert suppressions.is_suppressed("ada@example.com", None) is None
    assert suppressions.match("ada@x.mail.example.com", None)["value"] == "mail.example.com"


def test_a_linkedin_profile_is_suppressed_in_any_spelling(at):
    suppressions = new_list(at)
    add(suppressions, at, "linkedin_url", "https://www.linkedin.com/in/ada/")
    assert suppressions.is_suppressed(None, "linkedin.com/in/ada") == "suppressed"
    assert suppressions.is_suppressed("ada@example.com", "HTTP://LinkedIn.com/in/Ada?x=1") == "suppressed"
    assert suppressions.is_suppressed(None, "https://www.linkedin.com/in/bob") is None


def test_the_reason_names_the_source(at):
    suppressions = new_list(at)
    add(suppressions, at, "email", "gone@example.com", source="hard_bounce")
    add(suppressions, at, "email", "angry@example.com", source="complaint")
    assert suppressions.is_suppressed("gone@example.com", None) == "bounced"
    assert suppressions.is_suppressed("angry@example.com", None) == "complained"


def test_an_unsubscribe_suppresses_the_persons_email_and_linkedin_url(at):
    suppressions = new_list(at)
    lead_id = uuid4()
    added = suppressions.suppress_person(
        lead_id=lead_id,
        email="Ada@Example.com",
        linkedin_url="https://www.linkedin.com/in/ada/",
        reason="unsubscribe link",
        source="unsubscribe",
        at=at,
        actor="unsubscribe",
    )
    assert [(e["kind"], e["value"], e["lead_id"]) for e in added] == [
        ("email", "ada@example.com", lead_id),
        ("linkedin_url", "linkedin.com/in/ada", lead_id),
    ]
    assert suppressions.is_suppressed("ada@example.com", None) == "unsubscribed"
    assert suppressions.is_suppressed(None, "linkedin.com/in/ada") == "unsubscribed"
    again = suppressions.suppress_person(
        lead_id=lead_id,
        email="ada@example.com",
        linkedin_url="linkedin.com/in/ada",
        reason=None,
        source="unsubscribe",
        at=at,
        actor="unsubscribe",
    )
    assert again == [] and suppressions.version == 3


def test_a_person_with_only_a_linkedin_url_is_suppressed_there(at):
    suppressions = new_list(at)
    added = suppressions.suppress_person(
        lead_id=uuid4(),
        email=None,
        linkedin_url="https://www.linkedin.com/company/ada-ltd",  # as an import accepted it
        reason=None,
        source="unsubscribe",
        at=at,
        actor="unsubscribe",
    )
    assert [e["value"] for e in added] == ["linkedin.com/company/ada-ltd"]


def test_entries_are_paged_oldest_first_and_by_kind(at):
    suppressions = new_list(at)
    for n in range(5):
        add(suppressions, at + timedelta(minutes=n), "email", f"p{n}@example.com")
    add(suppressions, at + timedelta(minutes=9), "domain", "example.org")
    first, more = suppressions.page(kind=None, limit=4, after=None)
    assert more is True and [e["value"] for e in first][:2] == ["p0@example.com", "p1@example.com"]
    rest, more = suppressions.page(kind=None, limit=4, after=(first[-1]["created_at"], first[-1]["id"]))
    assert more is False and [e["value"] for e in rest] == ["p4@example.com", "example.org"]
    domains, _ = suppressions.page(kind="domain", limit=50, after=None)
    assert [e["value"] for e in domains] == ["example.org"]


def test_domains_of_an_email_run_from_the_most_specific():
    assert domains_of("ada@a.b.example.com") == ["a.b.example.com", "b.example.com", "example.com", "com"]


def test_the_list_and_a_snapshot_of_it_survive_the_store(at):
    app: Application[UUID] = Application(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo", "IS_SNAPSHOTTING_ENABLED": "y"}
    )
    suppressions = new_list(at)
    lead_id = uuid4()
    entry, _ = add(suppressions, at, "email", "ada@example.com", reason="asked", lead_id=lead_id)
    add(suppressions, at, "domain", "example.org", source="complaint")
    suppressions.lift(entry_id=entry["id"], at=at + timedelta(minutes=1), actor="t")
    add(suppressions, at, "linkedin_url", "linkedin.com/in/ada")
    app.save(suppressions)

    reloaded = app.repository.get(suppressions.id)
    assert reloaded.entries == suppressions.entries and reloaded.keys == suppressions.keys
    assert app.snapshots is not None
    app.snapshots.put([Snapshot.take(reloaded)])
    from_snapshot = app.repository.get(suppressions.id)
    assert from_snapshot.entries == suppressions.entries
    assert from_snapshot.is_suppressed("bob@mail.example.org", None) == "complained"
    assert [entry_view(e)["kind"] for e in from_snapshot.entries.values()] == ["domain", "linkedin_url"]
