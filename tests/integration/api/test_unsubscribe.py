"""The unsubscribe link (RFC 8058 one-click): a POST suppresses the person and stops them everywhere;
a GET only shows a page; a bad token is 404 and records nothing. No API key either way."""

from uuid import UUID, uuid4

import pytest

from plera.commands.suppressions import suppression_for, unsubscribe_lead
from plera.messaging.unsubscribe import token_for
from tests.integration.api.conftest import assert_problem

ONE_CLICK = {"List-Unsubscribe": "One-Click"}  # what mail providers POST, as a form


@pytest.fixture
def ada(api):
    """Ada, with an email address and a LinkedIn URL, in two launched sequences (of two groups)."""
    run = api.run()
    groups = [api.group(run, "List A"), api.group(run, "List B")]
    person = {"first_name": "Ada", "email": "Ada@Example.com", "linkedin_url": "https://www.linkedin.com/in/ada/"}
    lead = api.import_leads(groups[0], [person])["lead_ids"][0]
    assert api.import_leads(groups[1], [person])["lead_ids"] == [lead]
    bob = api.import_leads(groups[0], [{"email": "bob@example.com"}])["lead_ids"][0]
    sequences = []
    for group in groups:
        api.enrich(group)
        sequences.append(api.sequence(run, [group]))
        api.launch(sequences[-1])
    assert len(api.enrollments_of(lead)) == 2
    return {"lead": lead, "bob": bob, "sequences": sequences}


def _token(services, api, lead):
    return token_for(services.signing_key, api.workspace_id, UUID(lead))


def _event_count(services):
    with services.db.pool.connection() as conn:
        return conn.execute("SELECT count(*) FROM plera_events").fetchone()[0]


def test_one_click_suppresses_the_person_and_stops_them_in_every_sequence(api, ada, services, catch_up):
    token = _token(services, api, ada["lead"])
    answer = api.client.post(f"/v1/unsubscribe/{token}", data=ONE_CLICK)  # no API key
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"unsubscribed": True}
    assert answer.headers["cache-control"] == "no-store"

    entries = api.ok(api.get("/v1/suppressions"))["items"]
    assert {(e["kind"], e["value"]) for e in entries} == {
        ("email", "ada@example.com"),
        ("linkedin_url", "linkedin.com/in/ada"),
    }
    assert {(e["source"], e["lead_id"]) for e in entries} == {("unsubscribe", ada["lead"])}

    enrollments = api.enrollments_of(ada["lead"])
    assert {e["sequence_id"] for e in enrollments} == set(ada["sequences"])
    assert {(e["status"], e["stop_reason"]) for e in enrollments} == {("stopped", "unsubscribed")}
    assert {e["status"] for e in api.enrollments_of(ada["bob"])} == {"active"}
    history = api.ok(api.get(f"/v1/leads/{ada['lead']}/history"))["events"]
    assert [e["actor"] for e in history if e["type"] == "EnrollmentStopped"] == ["unsubscribe", "unsubscribe"]

    found = suppression_for(services, api.workspace_id, email="ada@example.com", linkedin_url=None)
    assert found is not None and found["skip_reason"] == "unsubscribed"
    assert suppression_for(services, api.workspace_id, email=None, linkedin_url="linkedin.com/in/ada") is not None

    catch_up()  # the read models take the new events in their stride
    for sequence in ada["sequences"]:
        totals = api.ok(api.get(f"/v1/sequences/{sequence}/dashboard"))["totals"]
        assert totals["stopped"] == 1


def test_a_second_post_changes_nothing_and_still_answers_200(api, ada, services):
    token = _token(services, api, ada["lead"])
    assert api.client.post(f"/v1/unsubscribe/{token}", data=ONE_CLICK).status_code == 200
    before = _event_count(services)
    again = api.client.post(f"/v1/unsubscribe/{token}", content=b"anything at all")
    assert again.status_code == 200 and again.json() == {"unsubscribed": True}
    assert _event_count(services) == before


def test_a_browser_gets_a_page_back(api, ada, services):
    token = _token(services, api, ada["lead"])
    answer = api.client.post(f"/v1/unsubscribe/{token}", data=ONE_CLICK, headers={"Accept": "text/html,*/*;q=0.8"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "You are unsubscribed" in answer.text


def test_a_get_shows_a_confirmation_form_and_unsubscribes_nobody(api, ada, services):
    token = _token(services, api, ada["lead"])
    before = _event_count(services)
    page = api.client.get(f"/v1/unsubscribe/{token}")  # a link scanner, or the person
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<form method="post">' in page.text and 'type="submit"' in page.text
    assert token not in page.text
    assert _event_count(services) == before
    assert api.ok(api.get("/v1/suppressions"))["items"] == []
    assert {e["status"] for e in api.enrollments_of(ada["lead"])} == {"active"}


def test_a_tampered_token_is_404_and_records_nothing(api, ada, services):
    token = _token(services, api, ada["lead"])
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    other_lead = token_for(services.signing_key, api.workspace_id, uuid4())  # genuine, but names no lead
    wrong_key = token_for(b"not our key", api.workspace_id, UUID(ada["lead"]))
    before = _event_count(services)
    for bad in (tampered, other_lead, wrong_key, "nonsense", "x" * 200):
        assert_problem(api.client.post(f"/v1/unsubscribe/{bad}", data=ONE_CLICK), 404, "not_found")
        assert_problem(api.client.get(f"/v1/unsubscribe/{bad}"), 404, "not_found")
    assert _event_count(services) == before
    assert {e["status"] for e in api.enrollments_of(ada["lead"])} == {"active"}


def test_a_token_of_one_workspace_does_not_name_a_lead_of_another(api, ada, services, new_workspace):
    other = new_workspace("Other")
    token = token_for(services.signing_key, other.workspace_id, UUID(ada["lead"]))
    assert_problem(api.client.post(f"/v1/unsubscribe/{token}"), 404, "not_found")
    assert {e["status"] for e in api.enrollments_of(ada["lead"])} == {"active"}


def test_the_same_person_imported_by_linkedin_url_alone_is_stopped_too(api, ada, services):
    run = api.run("Q2")
    group = api.group(run)
    twin = api.import_leads(group, [{"linkedin_url": "linkedin.com/in/ada"}])["lead_ids"][0]
    assert twin != ada["lead"]
    api.enrich(group)
    invite_then_email = [
        {"channel": "linkedin_invite", "delay_days": 0, "condition": "always"},
        {"channel": "email", "delay_days": 3, "condition": "no_reply"},
    ]  # a lead with no email goes through an email-only sequence at once: it is skipped on entry
    api.launch(api.sequence(run, [group], invite_then_email))
    assert {e["status"] for e in api.enrollments_of(twin)} == {"active"}

    api.client.post(f"/v1/unsubscribe/{_token(services, api, ada['lead'])}", data=ONE_CLICK)
    assert {(e["status"], e["stop_reason"]) for e in api.enrollments_of(twin)} == {("stopped", "unsubscribed")}


def test_an_unsubscribe_by_reply_does_the_same_under_its_own_actor(api, ada, services):
    done = unsubscribe_lead(services, api.workspace_id, UUID(ada["lead"]), actor="webhook", reason="asked by reply")
    assert len(done["suppressed"]) == 2 and len(done["stopped"]) == 2
    assert {e["reason"] for e in api.ok(api.get("/v1/suppressions"))["items"]} == {"asked by reply"}
    history = api.ok(api.get(f"/v1/leads/{ada['lead']}/history"))["events"]
    assert [e["actor"] for e in history if e["type"] == "EnrollmentStopped"] == ["webhook", "webhook"]
    again = unsubscribe_lead(services, api.workspace_id, UUID(ada["lead"]))
    assert (again["suppressed"], again["stopped"]) == ([], [])
