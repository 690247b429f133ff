from __future__ import annotations

from datetime import timedelta
from uuid import uuid4, uuid5

import pytest

from plera.aggregates.channels import Channel
from plera.aggregates.errors import InvalidValue
from plera.aggregates.lead import Lead, SourceGroup, lead_id_for

WORKSPACE = uuid4()
GROUP_A = uuid4()
GROUP_B = uuid4()


def import_lead(at, **details: str) -> Lead:
    return Lead.import_new(workspace_id=WORKSPACE, source_group_id=GROUP_A, details=details, at=at, actor="import")


# ---- identity


def test_a_lead_id_is_the_same_whatever_the_case_and_spacing_of_the_email():
    plain = lead_id_for(WORKSPACE, email="lena@example.com", linkedin_url=None)

    assert lead_id_for(WORKSPACE, email="  Lena@Example.COM ", linkedin_url=None) == plain
    assert plain == uuid5(WORKSPACE, "email:lena@example.com")


def test_the_email_decides_a_lead_id_even_when_a_linkedin_url_is_given():
    by_email = lead_id_for(WORKSPACE, email="lena@example.com", linkedin_url=None)

    assert lead_id_for(WORKSPACE, email="lena@example.com", linkedin_url="linkedin.com/in/lena") == by_email


@pytest.mark.parametrize(
    "spelling",
    [
        "https://www.linkedin.com/in/lena-k/",
        "http://linkedin.com/in/lena-k",
        "HTTPS://WWW.LinkedIn.com/in/Lena-K",
        "linkedin.com/in/lena-k/?utm_source=share",
        "  https://www.linkedin.com/in/lena-k#about ",
    ],
)
def test_a_lead_without_email_is_known_by_its_normalised_linkedin_url(spelling):
    expected = uuid5(WORKSPACE, "linkedin:linkedin.com/in/lena-k")

    assert lead_id_for(WORKSPACE, email=None, linkedin_url=spelling) == expected
    assert lead_id_for(WORKSPACE, email="", linkedin_url=spelling) == expected


def test_the_same_person_has_different_lead_ids_in_different_workspaces():
    other_workspace = uuid4()

    assert lead_id_for(WORKSPACE, email="a@b.io", linkedin_url=None) != lead_id_for(
        other_workspace, email="a@b.io", linkedin_url=None
    )


def test_a_lead_with_neither_email_nor_linkedin_url_is_refused(at):
    with pytest.raises(InvalidValue):
        lead_id_for(WORKSPACE, email=None, linkedin_url=None)
    with pytest.raises(InvalidValue):
        import_lead(at, first_name="Lena", email="", linkedin_url="")


def test_an_imported_lead_takes_its_id_from_its_email_and_drops_blank_fields(at):
    lead = import_lead(at, email="Lena@Example.com", first_name="Lena", last_name="", company="Acme")

    assert lead.id == lead_id_for(WORKSPACE, email="lena@example.com", linkedin_url=None)
    assert lead.details == {"email": "Lena@Example.com", "first_name": "Lena", "company": "Acme"}
    assert lead.source_group_ids == [GROUP_A]
    assert lead.name == "Lena"


def test_a_lead_with_an_unknown_field_is_refused(at):
    with pytest.raises(InvalidValue):
        import_lead(at, email="lena@example.com", shoe_size="38")


# ---- re-imports


def test_a_reimported_lead_is_linked_to_the_new_group_once(at):
    lead = import_lead(at, email="lena@example.com")

    assert lead.add_to_group(source_group_id=GROUP_B, details={}, at=at, actor="import") is True
    assert lead.add_to_group(source_group_id=GROUP_B, details={}, at=at, actor="import") is False

    assert lead.source_group_ids == [GROUP_A, GROUP_B]
    assert len(lead.collect_events()) == 2


def test_a_reimport_fills_only_the_fields_the_lead_lacked(at):
    lead = import_lead(at, email="lena@example.com", company="Acme")
    later = at + timedelta(days=1)

    changed = lead.add_to_group(
        source_group_id=GROUP_A,
        details={"company": "Other Co", "title": "CTO", "city": "", "email": "else@example.com", "pet": "cat"},
        at=later,
        actor="import",
    )

    assert changed is True
    assert lead.details == {"email": "lena@example.com", "company": "Acme", "title": "CTO"}
    event = lead.collect_events()[-1]
    assert isinstance(event, Lead.LeadAddedToGroup)
    assert event.filled == {"title": "CTO"}
    assert event.timestamp == later


def test_a_reimport_into_a_known_group_with_nothing_new_changes_nothing(at):
    lead = import_lead(at, email="lena@example.com", company="Acme")
    lead.collect_events()

    changed = lead.add_to_group(
        source_group_id=GROUP_A, details={"company": "Other Co", "title": ""}, at=at, actor="import"
    )

    assert changed is False
    assert lead.collect_events() == []
    assert lead.details["company"] == "Acme"


# ---- addresses


def test_a_lead_is_addressed_by_email_on_email_steps_and_by_profile_on_linkedin_steps(at):
    lead = import_lead(at, email="lena@example.com", linkedin_url="https://linkedin.com/in/lena")

    assert lead.address_for(Channel.EMAIL) == "lena@example.com"
    assert lead.address_for(Channel.LINKEDIN_INVITE) == "https://linkedin.com/in/lena"
    assert lead.address_for(Channel.LINKEDIN_MESSAGE) == "https://linkedin.com/in/lena"


def test_a_lead_without_an_address_on_a_channel_has_none_there(at):
    email_only = import_lead(at, email="lena@example.com")
    linkedin_only = import_lead(at, linkedin_url="https://linkedin.com/in/lena")

    assert email_only.address_for(Channel.LINKEDIN_INVITE) is None
    assert linkedin_only.address_for(Channel.EMAIL) is None


def test_a_lead_shows_every_lead_field(at):
    lead = import_lead(at, email="lena@example.com", first_name="Lena", last_name="Kowalski")

    shown = lead.as_dict()

    assert shown["id"] == str(lead.id)
    assert shown["first_name"] == "Lena"
    assert shown["timezone"] is None
    assert lead.name == "Lena Kowalski"


# ---- source groups


def new_group(at) -> SourceGroup:
    return SourceGroup.create(workspace_id=WORKSPACE, run_id=uuid4(), name="Berlin CTOs", at=at, actor="import")


def test_a_source_group_without_a_name_is_refused(at):
    with pytest.raises(InvalidValue):
        SourceGroup.create(workspace_id=WORKSPACE, run_id=uuid4(), name="  ", at=at, actor="import")


def test_adding_leads_to_a_group_returns_only_the_new_ones_once_each(at):
    group = new_group(at)
    a, b, c = uuid4(), uuid4(), uuid4()

    assert group.add_leads(lead_ids=[a, b, a], at=at, actor="import") == [a, b]
    assert group.add_leads(lead_ids=[b, c, c], at=at, actor="import") == [c]

    assert group.lead_ids == [a, b, c]
    added = [e for e in group.collect_events() if isinstance(e, SourceGroup.LeadsAdded)]
    assert [e.lead_ids for e in added] == [[a, b], [c]]


def test_adding_only_known_leads_records_nothing(at):
    group = new_group(at)
    a = uuid4()
    group.add_leads(lead_ids=[a], at=at, actor="import")
    group.collect_events()

    assert group.add_leads(lead_ids=[a], at=at, actor="import") == []
    assert group.add_leads(lead_ids=[], at=at, actor="import") == []
    assert group.collect_events() == []


def test_a_group_is_eligible_for_enrollment_only_once_enriched(at):
    group = new_group(at)

    assert group.eligible is False
    assert group.mark_enriched(at=at, actor="worker") is True
    assert group.eligible is True


def test_marking_a_group_enriched_twice_records_one_event(at):
    group = new_group(at)

    group.mark_enriched(at=at, actor="worker")
    assert group.mark_enriched(at=at, actor="worker") is False

    enriched = [e for e in group.collect_events() if isinstance(e, SourceGroup.SourceGroupEnriched)]
    assert len(enriched) == 1


def test_a_sequence_is_attached_to_a_group_once(at):
    group = new_group(at)
    sequence_id = uuid4()

    group.attach_sequence(sequence_id=sequence_id, at=at, actor="ops")
    group.attach_sequence(sequence_id=sequence_id, at=at, actor="ops")

    assert group.sequence_ids == [sequence_id]
