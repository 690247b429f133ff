"""Test sends through the HTTP API, delivered over real SMTP to a fake mail server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from plera.api import create_app
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.consumers.inprocess import InProcessFeed
from plera.messaging.unsubscribe import unsubscribe_url
from plera.projections.all import ALL
from plera.runtime import Services
from tests.fakes.smtp_server import FakeSmtp, Received
from tests.integration.api.conftest import Api, assert_problem

STEPS = [
    {"name": "First email", "channel": "email", "delay_days": 0, "condition": "always"},
    {"name": "Connect", "channel": "linkedin_invite", "delay_days": 2, "condition": "no_reply"},
]
SUBJECT = "Quick question, {{ lead.first_name | default('friend') }}"
BODY = (
    "Hi {{ lead.first_name | default('there') }},\n\n"
    "We help {{ lead.company | default('teams like yours') }} find <stalled> deals & revive them.\n\n"
    "{{ sender.signature | default('') }}\n\n"
    "Unsubscribe: {{ unsubscribe_url }}\n"
)
NOTE = "Hi {{ lead.first_name | default('there') }}, glad to connect."
LENA = {
    "first_name": "Lena",
    "last_name": "Berg",
    "company": "Northwind",
    "email": "lena@northwind.example",
    "linkedin_url": "https://www.linkedin.com/in/lena-berg",
}
BLANK = {"first_name": "  ", "company": "", "email": "someone@blank.example"}  # blank counts as missing
TESTER = "qa@tester.example"


@pytest.fixture
def api(services: Services) -> Iterator[Api]:
    with TestClient(create_app(services)) as client:
        new = create_workspace(services, CreateWorkspace(name="Test sends"), actor="test")
        yield Api(client=client, workspace_id=new.workspace.id, api_key=new.api_key)


@dataclass
class Lab:
    sequence: str
    lena: str
    blank: str
    email_sender: str
    linkedin_sender: str


@pytest.fixture
def lab(api: Api, smtp_server: FakeSmtp, services: Services) -> Lab:
    """A sequence with an email step and a LinkedIn invite step, its messages written, its senders chosen."""
    run = api.run()
    group = api.group(run)
    lena, blank = api.import_leads(group, [LENA, BLANK])["lead_ids"]
    api.enrich(group)
    InProcessFeed(services, ALL).catch_up()  # test sends go to the sequence's eligible leads, from the read models
    sequence = api.sequence(run, [group], STEPS)
    put_message(api, sequence, 1, BODY, subject=SUBJECT)
    put_message(api, sequence, 2, NOTE)
    email_sender = api.sender(
        "email",
        name="Ana Ruiz",
        address="ana@plera.example",
        signature="Ana, Plera",
        smtp={"host": smtp_server.host, "port": smtp_server.port, "starttls": False},
    )
    linkedin_sender = api.sender("linkedin")
    api.ok(api.put(f"/v1/sequences/{sequence}/senders", json={"email": [email_sender], "linkedin": [linkedin_sender]}))
    return Lab(sequence, lena, blank, email_sender, linkedin_sender)


def put_message(api: Api, sequence: str, step: int, body: str, subject: str | None = None) -> None:
    api.ok(api.put(f"/v1/sequences/{sequence}/steps/{step}/message", json={"subject": subject, "body": body}))


def send_test(api: Api, lab: Lab, step: int, lead: str, to: str = TESTER) -> httpx.Response:
    return api.post(f"/v1/sequences/{lab.sequence}/test-send", json={"step": step, "lead_id": lead, "to": to})


def the_one(smtp_server: FakeSmtp) -> Received:
    assert len(smtp_server.messages) == 1, smtp_server.messages
    return smtp_server.messages[0]


def text_and_html(received: Received) -> tuple[str, str]:
    message = received.message
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def test_an_email_step_arrives_at_the_test_address_rendered_for_the_lead(
    api: Api, lab: Lab, smtp_server: FakeSmtp, services: Services
) -> None:
    answer = api.ok(send_test(api, lab, step=1, lead=lab.lena))

    received = the_one(smtp_server)
    assert received.rcpt_tos == [TESTER]
    assert received.mail_from == "ana@plera.example"
    message = received.message
    assert message["Subject"] == "[Test] Quick question, Lena"
    assert message["From"] == "Ana Ruiz <ana@plera.example>"
    assert message["To"] == TESTER
    assert message["Message-ID"] == answer["message_id"]
    assert message["Date"].datetime == services.clock.now().replace(microsecond=0)
    assert answer == {
        "message_id": answer["message_id"],
        "to": TESTER,
        "subject": "Quick question, Lena",
        "channel": "email",
    }
    text, html = text_and_html(received)
    link = unsubscribe_url(services.settings.public_url, services.signing_key, api.workspace_id, UUID(lab.lena))
    assert text.startswith("Hi Lena,\n\nWe help Northwind find <stalled> deals & revive them.")
    assert "Ana, Plera" in text  # the sender's signature
    assert f"Unsubscribe: {link}" in text
    assert "find &lt;stalled&gt; deals &amp; revive them" in html
    assert f'<a href="{link}">{link}</a>' in html
    # A test is not outreach: nobody at the test address opts out of anything.
    assert "List-Unsubscribe" not in message


def test_the_test_message_is_what_the_preview_shows(
    api: Api, lab: Lab, smtp_server: FakeSmtp, services: Services
) -> None:
    InProcessFeed(services, ALL).catch_up()
    preview = api.ok(api.get(f"/v1/sequences/{lab.sequence}/previews", params={"lead_id": lab.lena}))["items"][0]

    api.ok(send_test(api, lab, step=1, lead=lab.lena))

    text, _ = text_and_html(the_one(smtp_server))
    assert the_one(smtp_server).message["Subject"] == f"[Test] {preview['subject']}"
    assert text.rstrip("\n") == preview["body"].rstrip("\n")


def test_a_lead_with_blank_fields_gets_the_fallbacks(api: Api, lab: Lab, smtp_server: FakeSmtp) -> None:
    api.ok(send_test(api, lab, step=1, lead=lab.blank))

    received = the_one(smtp_server)
    assert received.message["Subject"] == "[Test] Quick question, friend"
    text, _ = text_and_html(received)
    assert text.startswith("Hi there,\n\nWe help teams like yours find")


def test_a_linkedin_step_arrives_as_an_email_showing_the_note(api: Api, lab: Lab, smtp_server: FakeSmtp) -> None:
    answer = api.ok(send_test(api, lab, step=2, lead=lab.lena))

    assert answer["channel"] == "linkedin_invite"
    received = the_one(smtp_server)
    assert received.rcpt_tos == [TESTER]
    assert received.message["Subject"] == "[Test] LinkedIn invite note for Lena Berg"
    text, _ = text_and_html(received)
    assert text.strip() == "Hi Lena, glad to connect."


def test_a_sender_that_logs_in_sends_with_its_stored_password(api: Api, lab: Lab, smtp_server: FakeSmtp) -> None:
    smtp_server.require_auth("ana", "s3cret-pw")
    smtp = {"host": smtp_server.host, "port": smtp_server.port, "starttls": False}
    with_login = api.sender(
        "email", address="ana@plera.example", smtp={**smtp, "username": "ana", "password": "s3cret-pw"}
    )
    api.ok(api.put(f"/v1/sequences/{lab.sequence}/senders", json={"email": [with_login]}))

    api.ok(send_test(api, lab, step=1, lead=lab.lena))

    assert the_one(smtp_server).rcpt_tos == [TESTER]
    assert smtp_server.logins == ["ana", "ana"]  # the check when it was added, then the send


def test_a_refused_recipient_answers_502_and_changes_nothing(
    api: Api, lab: Lab, smtp_server: FakeSmtp, services: Services
) -> None:
    smtp_server.refuse("nobody@tester.example", 550, "5.1.1 user unknown")
    events_before = stored_events(services)
    sequence_before = api.ok(api.get(f"/v1/sequences/{lab.sequence}"))

    problem = assert_problem(send_test(api, lab, step=1, lead=lab.lena, to="nobody@tester.example"), 502, "send_failed")

    assert "550" in problem["detail"] and "user unknown" in problem["detail"]
    assert smtp_server.messages == []
    assert stored_events(services) == events_before
    assert api.ok(api.get(f"/v1/sequences/{lab.sequence}")) == sequence_before


def test_without_an_email_sender_there_is_nothing_to_send_from(api: Api, lab: Lab, smtp_server: FakeSmtp) -> None:
    api.ok(api.put(f"/v1/sequences/{lab.sequence}/senders", json={"email": [], "linkedin": [lab.linkedin_sender]}))

    for step in (1, 2):
        assert_problem(send_test(api, lab, step=step, lead=lab.lena), 409, "no_sender_for_channel")
    assert smtp_server.messages == []


@pytest.mark.parametrize("to", ["not-an-address", "tester@localhost", "two words@tester.example", "@tester.example"])
def test_a_test_address_must_be_an_address(api: Api, lab: Lab, smtp_server: FakeSmtp, to: str) -> None:
    problem = assert_problem(send_test(api, lab, step=1, lead=lab.lena, to=to), 422, "invalid_request")

    assert any(e["loc"][-1] == "to" for e in problem["errors"])
    assert smtp_server.messages == []


def test_a_test_goes_to_one_address_only(api: Api, lab: Lab, smtp_server: FakeSmtp) -> None:
    response = send_test(api, lab, step=1, lead=lab.lena, to="qa@tester.example,someone-else@elsewhere.example")

    assert response.status_code == 422
    assert smtp_server.messages == []


def test_a_lead_outside_the_sequence_gets_no_test(api: Api, lab: Lab, smtp_server: FakeSmtp) -> None:
    other = api.import_leads(api.group(api.run()), [{"email": "outsider@else.example"}])["lead_ids"][0]
    assert_problem(send_test(api, lab, step=1, lead=other), 422, "invalid_value")
    assert smtp_server.messages == []


def stored_events(services: Services) -> int:
    return int(services.events.app.recorder.max_notification_id() or 0)


def test_a_step_the_lead_skips_gets_no_test(api: Api, lab: Lab, smtp_server: FakeSmtp) -> None:
    body = assert_problem(send_test(api, lab, step=2, lead=lab.blank), 422, "invalid_value")  # no LinkedIn URL
    assert "skips step 2: no LinkedIn URL" in body["detail"]
    assert smtp_server.messages == []
