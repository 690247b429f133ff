"""Replies, auto-replies, bounces and unsubscribes through the signed inbound-mail webhook, over real sends."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import pytest
from fastapi.testclient import TestClient

from plera.aggregates.enrollment import LeadEnrollment, StepStatus
from plera.aggregates.unmatched_mail import UnmatchedMail
from plera.aggregates.workspace import Workspace
from plera.api import create_app
from plera.channels.signatures import signed_headers
from plera.commands.replies import record_outcome
from plera.commands.suppressions import suppression_for
from plera.commands.workspaces import ChangeWorkspace, change_workspace
from plera.projections.dashboard import sequence_dashboard

EMAILS = [
    {"channel": "email", "delay_days": 0, "condition": "always"},
    {"channel": "email", "delay_days": 2, "condition": "no_reply"},
    {"channel": "email", "delay_days": 2, "condition": "no_reply"},
    {"channel": "email", "delay_days": 2, "condition": "no_reply"},
]


def person(name: str, domain: str = "acme.example") -> dict:
    return {"first_name": name, "email": f"{name.lower()}@{domain}", "timezone": "Europe/Berlin", "company": domain}


@pytest.fixture
def client(world):
    with TestClient(create_app(world.sv)) as c:
        yield c


def deliver(world, client: TestClient, message: EmailMessage | bytes, *, secret: str | None = None):
    raw = message if isinstance(message, bytes) else message.as_bytes()
    workspace = world.sv.events.get(world.workspace_id, Workspace)
    headers = signed_headers(secret or world.sv.vault.get(workspace.webhook_secret_id), int(time.time()), raw)
    headers["Content-Type"] = "message/rfc822"
    return client.post(f"/v1/webhooks/{world.workspace_id}/email/inbound", content=raw, headers=headers)


def reply_to(world, sent: EmailMessage, text: str, *, message_id: str, **headers: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sent["To"]
    message["To"] = "alex@plera.example"
    message["Subject"] = "Re: " + str(sent["Subject"])
    message["Message-ID"] = message_id
    message["In-Reply-To"] = sent["Message-ID"]
    message["References"] = sent["Message-ID"]
    message["Date"] = format_datetime(world.clock.now())
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(
        text
        + "\n\nOn Mon, Alex <alex@plera.example> wrote:\n> "
        + "\n> ".join(str(sent.get_body(("plain",)).get_content()).splitlines())
    )
    return message


def test_a_reply_to_step_2_stops_steps_3_and_4_and_is_credited_to_step_2(world, client):
    world.import_leads(person("Lena"))
    world.launch(steps=EMAILS)
    world.advance(hours=1)
    world.advance(days=2)  # Wednesday: step 2 goes out
    first, second = world.emails_to("lena@acme.example")

    answered = deliver(
        world, client, reply_to(world, second, "Sounds good, let's talk Tuesday.", message_id="<r1@acme.example>")
    )
    assert answered.status_code == 202, answered.text
    assert answered.json()["classification"] == "reply"
    lena = world.enrollment("Lena")
    assert [lena.step_status(n) for n in (3, 4)] == [StepStatus.SKIPPED, StepStatus.SKIPPED]
    assert lena.status == "stopped"
    world.advance(days=7)
    assert len(world.emails_to("lena@acme.example")) == 2
    with world.sv.db.pool.connection() as conn:
        board = sequence_dashboard(conn, world.workspace_id, world.sequence_id)
    assert board is not None
    assert [s["replied"] for s in board["steps"]] == [0, 1, 0, 0]

    again = deliver(
        world, client, reply_to(world, second, "Sounds good, let's talk Tuesday.", message_id="<r1@acme.example>")
    )
    assert again.json()["status"] == "duplicate"
    assert world.enrollment("Lena").version == lena.version


def test_an_out_of_office_pauses_the_lead_until_its_return_and_is_not_a_reply(world, client):
    world.import_leads(person("Otto"))
    world.launch(steps=EMAILS)
    world.advance(hours=1)  # Monday 2 March: step 1
    (sent,) = world.emails_to("otto@acme.example")
    away = reply_to(
        world,
        sent,
        "I am out of the office until March 9 with limited access to email.",
        message_id="<ooo@acme.example>",
        Auto_Submitted="auto-replied",
    )
    away.replace_header("Subject", "Automatic reply: " + str(sent["Subject"]))
    answered = deliver(world, client, away)
    assert answered.json()["classification"] == "auto_reply"
    otto = world.enrollment("Otto")
    assert otto.paused and otto.replied_at is None
    world.advance(days=2)  # step 2 would be due Wednesday: paused, nothing goes
    assert len(world.emails_to("otto@acme.example")) == 1
    for _ in range(6):  # back on Monday 9 March: the wake job resumes the lead, which goes on
        world.advance(days=1)
        world.worker().wake()
    world.dispatch()
    assert not world.enrollment("Otto").paused
    world.advance(hours=1)
    assert len(world.emails_to("otto@acme.example")) == 2


def test_an_auto_reply_naming_no_return_date_pauses_for_the_workspaces_days(world, client):
    change_workspace(world.sv, world.workspace_id, ChangeWorkspace(out_of_office_pause_days=3), "test")
    world.import_leads(person("Uma"))
    world.launch(steps=EMAILS)
    world.advance(hours=1)  # Monday 2 March: step 1
    (sent,) = world.emails_to("uma@acme.example")
    ticket = reply_to(
        world,
        sent,
        "Thank you for your message. We have received it and will answer shortly.",
        message_id="<ticket@acme.example>",
        Auto_Submitted="auto-replied",
    )

    assert deliver(world, client, ticket).json()["classification"] == "auto_reply"

    uma = world.enrollment("Uma")
    assert uma.paused and uma.away_until == world.clock.now() + timedelta(days=3)


def dsn(world, sent: EmailMessage, *, status: str, action: str) -> bytes:
    boundary = "dsn-boundary"
    return (
        f"From: MAILER-DAEMON@mx.acme.example\r\nTo: alex@plera.example\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn-{status}@mx.acme.example>\r\n"
        f"Date: {format_datetime(world.clock.now())}\r\nMIME-Version: 1.0\r\nAuto-Submitted: auto-replied\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nThis is the mail system. Your message could not be delivered.\r\n"
        f"--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.acme.example\r\n\r\n"
        f"Final-Recipient: rfc822; {sent['To']}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; 550 {status} user unknown\r\n"
        f"--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {sent['Message-ID']}\r\n"
        f"From: alex@plera.example\r\nTo: {sent['To']}\r\nSubject: {sent['Subject']}\r\n"
        f"--{boundary}--\r\n"
    ).encode()


def test_a_hard_bounce_suppresses_the_address_and_ends_the_email_steps(world, client):
    world.import_leads(person("Hana"))
    world.launch(steps=EMAILS)
    world.advance(hours=1)
    (sent,) = world.emails_to("hana@acme.example")
    answered = deliver(world, client, dsn(world, sent, status="5.1.1", action="failed"))
    assert answered.json()["classification"] == "bounce"
    hana = world.enrollment("Hana")
    assert hana.step_status(1) is StepStatus.BOUNCED
    assert all(hana.step_status(n) is StepStatus.SKIPPED for n in (2, 3, 4))
    found = suppression_for(world.sv, world.workspace_id, email="hana@acme.example", linkedin_url=None)
    assert found is not None and found["source"] == "hard_bounce"
    world.catch_up()
    with world.sv.db.pool.connection() as conn:
        board = sequence_dashboard(conn, world.workspace_id, world.sequence_id)
    assert board is not None and board["steps"][0]["bounced"] == 1


def test_a_soft_bounce_sends_the_step_again_later(world, client):
    world.import_leads(person("Sofi"))
    world.launch(steps=EMAILS[:2])
    world.advance(hours=1)
    (sent,) = world.emails_to("sofi@acme.example")
    deliver(world, client, dsn(world, sent, status="4.2.2", action="delayed"))
    sofi = world.enrollment("Sofi")
    assert sofi.step_status(1) is StepStatus.SCHEDULED and sofi.attempts_of(1) == 1
    world.advance(minutes=20)
    again = world.emails_to("sofi@acme.example")
    assert len(again) == 2 and again[1]["Message-ID"] != sent["Message-ID"]  # a new attempt, a new id


def test_an_unsubscribe_request_by_mail_stops_the_person_everywhere(world, client):
    world.import_leads(person("Ugo"))
    world.launch(steps=EMAILS)
    world.advance(hours=1)
    (sent,) = world.emails_to("ugo@acme.example")
    answered = deliver(
        world, client, reply_to(world, sent, "Please remove me from your list.", message_id="<u1@acme.example>")
    )
    assert answered.json()["classification"] == "unsubscribe"
    assert world.enrollment("Ugo").status == "stopped"
    assert suppression_for(world.sv, world.workspace_id, email="ugo@acme.example", linkedin_url=None) is not None


def test_the_company_stop_reaches_colleagues_but_not_free_mail_namesakes(world, client):
    world.import_leads(person("Ada"), person("Bea"), person("Cleo", "gmail.com"), person("Dina", "gmail.com"))
    world.launch(steps=EMAILS, company_stop="stop")
    world.advance(hours=1)
    for _ in range(6):  # one sender: its sends are a few minutes apart
        world.advance(minutes=5)
    ada_first = world.emails_to("ada@acme.example")[0]
    deliver(world, client, reply_to(world, ada_first, "Interested, call me.", message_id="<a1@acme.example>"))
    assert world.enrollment("Bea").status == "stopped"  # same company domain
    cleo_first = world.emails_to("cleo@gmail.com")[0]
    deliver(world, client, reply_to(world, cleo_first, "Tell me more.", message_id="<c1@gmail.com>"))
    assert world.enrollment("Dina").status == "active"  # gmail.com is nobody's company


@pytest.mark.parametrize(("rule", "bea_paused", "bea_sent"), [("pause", True, 1), ("off", False, 2)])
def test_the_company_stop_can_pause_colleagues_instead_or_leave_them_be(world, client, rule, bea_paused, bea_sent):
    world.import_leads(person("Ada"), person("Bea"))
    world.launch(steps=EMAILS, company_stop=rule)
    world.advance(hours=1)
    for _ in range(3):  # one sender: its sends are a few minutes apart
        world.advance(minutes=5)
    ada_first = world.emails_to("ada@acme.example")[0]

    deliver(world, client, reply_to(world, ada_first, "Interested, call me.", message_id="<a1@acme.example>"))

    bea = world.enrollment("Bea")
    assert (bea.status, bea.paused, bea.replied_at) == ("active", bea_paused, None)
    world.advance(days=2)  # Wednesday: step 2 is due
    for _ in range(3):
        world.advance(minutes=5)
    assert len(world.emails_to("bea@acme.example")) == bea_sent
    assert len(world.emails_to("ada@acme.example")) == 1  # Ada herself replied: her follow-ups stopped


def test_our_own_copies_are_never_replies_and_strangers_land_unmatched(world, client):
    world.import_leads(person("Ivo"))
    world.launch(steps=EMAILS)
    world.advance(hours=1)
    (sent,) = world.emails_to("ivo@acme.example")
    ours = deliver(world, client, sent)  # a copy of our own message (BCC, mailbox sync)
    assert ours.json()["status"] == "own_message"
    assert world.enrollment("Ivo").replied_at is None
    stranger = EmailMessage()
    stranger["From"] = "someone@else.example"
    stranger["Subject"] = "Hello"
    stranger["Message-ID"] = "<s1@else.example>"
    stranger.set_content("Who are you?")
    assert deliver(world, client, stranger).json()["status"] == "unmatched"


def test_a_bad_signature_records_nothing(world, client):
    world.import_leads(person("Noa"))
    world.launch(steps=EMAILS)
    world.advance(hours=1)
    (sent,) = world.emails_to("noa@acme.example")
    before = world.enrollment("Noa").version
    refused = deliver(world, client, reply_to(world, sent, "Yes!", message_id="<n1@acme.example>"), secret="wrong")
    assert refused.status_code == 401
    assert world.enrollment("Noa").version == before


def test_a_manual_outcome_stops_the_lead_like_a_reply_in_every_sequence(world):
    world.import_leads(person("Mia"))
    first = world.launch(steps=EMAILS)
    second = world.launch(steps=EMAILS)
    world.advance(hours=1)
    before = len(world.emails_to("mia@acme.example"))
    mia = world.leads["Mia"]
    booked = record_outcome(
        world.sv, world.workspace_id, LeadEnrollment.create_id(first, mia), "meeting_booked", "test"
    )
    assert (booked.status, booked.stop_reason, booked.outcome) == ("stopped", "meeting_booked", "meeting_booked")
    other = world.sv.events.get(LeadEnrollment.create_id(second, mia), LeadEnrollment)
    assert other.replied_at is not None  # like a reply: its no_reply steps stop, an `always` step may still go
    assert [other.step_status(n) for n in (2, 3, 4)] == [StepStatus.SKIPPED] * 3
    world.advance(days=5)
    assert len(world.emails_to("mia@acme.example")) <= before + 1  # at most the other sequence's `always` step 1


def _events_of(world, aggregate_id, topic_part: str) -> int:
    with world.sv.db.pool.connection() as conn:
        return conn.execute(
            "SELECT count(*) FROM plera_events WHERE originator_id = %s AND topic LIKE %s",
            (aggregate_id, f"%{topic_part}"),
        ).fetchone()[0]


def test_a_delivery_that_fails_midway_records_nothing_and_its_retry_is_taken_in(world):
    world.import_leads(person("Fay"))
    world.launch(steps=EMAILS)
    world.advance(hours=1)
    (sent,) = world.emails_to("fay@acme.example")
    answer = reply_to(world, sent, "Yes, call me.", message_id="<fay-1@acme.example>")
    # A real fault in the database: the enrollment's ReplyDetected row is refused, after the lead's
    # MessageReceived row of the same delivery was written.
    with world.sv.db.pool.connection() as conn:
        conn.execute(
            "CREATE FUNCTION refuse_reply() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN IF NEW.topic LIKE '%ReplyDetected' THEN RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER refuse_reply BEFORE INSERT ON plera_events FOR EACH ROW EXECUTE FUNCTION refuse_reply()"
        )
    fay = world.leads["Fay"]
    with TestClient(create_app(world.sv), raise_server_exceptions=False) as failing:
        assert deliver(world, failing, answer).status_code == 500
    assert _events_of(world, fay, "MessageReceived") == 0  # no half-recorded reply
    assert world.enrollment("Fay").status == "active"

    with world.sv.db.pool.connection() as conn:
        conn.execute("DROP TRIGGER refuse_reply ON plera_events")
        conn.execute("DROP FUNCTION refuse_reply()")
    with TestClient(create_app(world.sv)) as client:
        retried = deliver(world, client, answer)  # the provider's retry of the same delivery
    assert retried.status_code == 202, retried.text
    assert retried.json()["status"] == "applied"
    assert _events_of(world, fay, "MessageReceived") == 1
    assert world.enrollment("Fay").status == "stopped"


def test_copies_of_one_delivery_racing_each_other_are_taken_in_once(world, client):
    world.import_leads(person("Gus"))
    world.launch(steps=EMAILS)
    world.advance(hours=1)
    (sent,) = world.emails_to("gus@acme.example")
    raw = reply_to(world, sent, "Interested.", message_id="<gus-1@acme.example>").as_bytes()
    start = threading.Barrier(6)

    def racer(_: int) -> str:
        start.wait()
        return deliver(world, client, raw).json()["status"]

    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(racer, range(6)))
    assert statuses == ["applied"] + ["duplicate"] * 5
    assert _events_of(world, world.leads["Gus"], "MessageReceived") == 1
    assert _events_of(world, world.enrollment("Gus").id, "ReplyDetected") == 1


def test_a_burst_of_mail_from_strangers_is_all_kept(world, client):
    """Concurrent deliveries of strangers' mail (each kept as an UnmatchedMail of its own) are all
    taken in, none answered with an error."""
    world.import_leads(person("Ivy"))
    world.launch(steps=EMAILS)

    def stranger(n: int) -> int:
        message = EmailMessage()
        message["From"] = f"stranger{n}@elsewhere.example"
        message["To"] = "alex@plera.example"
        message["Subject"] = "Hello"
        message["Message-ID"] = f"<stranger-{n}@elsewhere.example>"
        message.set_content("Who is this?")
        return deliver(world, client, message).status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(stranger, range(40)))
    assert statuses == [202] * 40
    ids = [UnmatchedMail.id_for(world.workspace_id, f"<stranger-{n}@elsewhere.example>") for n in range(40)]
    kept = world.sv.events.existing(ids)
    assert kept == set(ids)
