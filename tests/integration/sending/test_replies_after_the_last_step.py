"""A reply to the last step counts: it is recorded on the completed enrollment it answers, credited to
that step on the dashboard and shown in the inbox as a reply; a later message from the person counts
once. Over real sends (SMTP sink, LinkedIn sandbox), the signed webhooks and the simulated clock."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from plera.aggregates.enrollment import LeadEnrollment
from plera.api import create_app
from plera.commands.replies import record_outcome
from plera.projections.dashboard import sequence_dashboard
from plera.projections.inbox import thread, threads
from plera.projections.run_overview import runs_overview
from tests.integration.sending.test_inbound import EMAILS, _events_of, deliver, person, reply_to
from tests.integration.sending.test_linkedin_webhook import ANA, event, post_event


@pytest.fixture
def client(world):
    with TestClient(create_app(world.sv)) as c:
        yield c


def send_every_step(world, address: str) -> None:
    """Monday 09:00 Berlin: step 1; then steps 2 to 4, two days apart but for the weekend."""
    world.advance(hours=1)
    for _ in range(9):
        world.advance(days=1)
    assert len(world.emails_to(address)) == len(EMAILS)


def dashboard(world) -> dict:
    with world.sv.db.pool.connection() as conn:
        board = sequence_dashboard(conn, world.workspace_id, world.sequence_id)
    assert board is not None
    return board


def replied_threads(world) -> list[dict]:
    with world.sv.db.pool.connection() as conn:
        return threads(conn, world.workspace_id, status="replied")["items"]


def test_a_reply_to_the_final_email_is_counted_against_it_and_shown_as_a_reply_once(world, client):
    world.import_leads(person("Lena"))
    world.launch(steps=EMAILS)
    send_every_step(world, "lena@acme.example")
    *_, last = world.emails_to("lena@acme.example")
    assert world.enrollment("Lena").status == "completed"

    answered = deliver(world, client, reply_to(world, last, "Fine, let's talk.", message_id="<l1@acme.example>"))

    assert answered.json() == {"status": "applied", "classification": "reply", "lead_ids": [str(world.leads["Lena"])]}
    lena = world.enrollment("Lena")
    assert (lena.status, lena.replied_at) == ("completed", world.clock.now())
    world.catch_up()
    board = dashboard(world)
    assert [s["replied"] for s in board["steps"]] == [0, 0, 0, 1]
    assert [s["reply_rate"] for s in board["steps"]] == [0.0, 0.0, 0.0, 1.0]
    assert (board["totals"]["replied"], board["totals"]["completed"]) == (1, 1)
    with world.sv.db.pool.connection() as conn:
        (run,) = runs_overview(conn, world.workspace_id)["items"]
    assert run["totals"]["replied"] == 1
    (shown,) = replied_threads(world)
    assert (shown["lead_id"], shown["replied"], shown["last_classification"]) == (
        str(world.leads["Lena"]),
        True,
        "reply",
    )

    world.advance(days=1)
    later = deliver(world, client, reply_to(world, last, "Also, Friday works.", message_id="<l2@acme.example>"))

    assert later.json()["status"] == "applied"
    assert world.enrollment("Lena").version == lena.version  # no second ReplyDetected
    assert _events_of(world, lena.id, "ReplyDetected") == 1
    world.catch_up()
    assert dashboard(world) == board
    with world.sv.db.pool.connection() as conn:
        found = thread(conn, world.workspace_id, shown["id"])
    assert found is not None
    assert [m["text"] for m in found["messages"] if m["direction"] == "in"] == [
        "Fine, let's talk.",
        "Also, Friday works.",
    ]


def test_a_reply_naming_none_of_our_messages_counts_for_the_enrollment_last_mailed(world, client):
    world.import_leads(person("Max"))
    world.launch(steps=EMAILS)
    send_every_step(world, "max@acme.example")
    *_, last = world.emails_to("max@acme.example")
    plain = reply_to(world, last, "Call me.", message_id="<m1@acme.example>")
    del plain["In-Reply-To"], plain["References"]

    assert deliver(world, client, plain).json()["classification"] == "reply"

    assert world.enrollment("Max").status == "completed"
    world.catch_up()
    assert [s["replied"] for s in dashboard(world)["steps"]] == [0, 0, 0, 1]


def test_a_linkedin_message_after_the_last_linkedin_step_counts_against_it(world, client):
    world.import_leads(ANA)
    world.launch(
        steps=[
            {"channel": "linkedin_invite", "delay_days": 0, "condition": "always"},
            {"channel": "linkedin_message", "delay_days": 1, "condition": "no_reply"},
        ]
    )
    world.advance(hours=1)  # the invite goes
    world.sandbox.sandbox.accept({"account_id": "alex", "profile_url": "https://www.linkedin.com/in/ana"})
    assert post_event(world, client, event("invite_accepted", "e1", invitation_id="i1")).status_code == 202
    world.advance(days=1)  # the message goes
    assert world.enrollment("Ana").status == "completed"

    answered = post_event(world, client, event("message_received", "e2", message_id="m1", text="Sure, let's talk"))

    assert answered.json() == {"accepted": True, "enrollments": 1}
    assert (world.enrollment("Ana").status, world.enrollment("Ana").replied_at) == ("completed", world.clock.now())
    again = post_event(world, client, event("message_received", "e3", message_id="m2", text="Any time"))
    assert again.json()["enrollments"] == 0
    world.catch_up()
    board = dashboard(world)
    assert [s["replied"] for s in board["steps"]] == [0, 1]
    assert board["totals"]["replied"] == 1
    (shown,) = replied_threads(world)
    assert (shown["channel"], shown["message_count"]) == ("linkedin", 4)


def test_a_manual_reply_on_a_completed_enrollment_counts_and_it_stays_completed(world):
    world.import_leads(person("Uma"))
    world.launch(steps=EMAILS)
    send_every_step(world, "uma@acme.example")
    enrollment_id = LeadEnrollment.create_id(world.sequence_id, world.leads["Uma"])

    recorded = record_outcome(world.sv, world.workspace_id, enrollment_id, "replied", "test")

    assert (recorded.status, recorded.outcome, recorded.replied_at) == ("completed", "replied", world.clock.now())
    world.catch_up()
    board = dashboard(world)
    assert [s["replied"] for s in board["steps"]] == [0, 0, 0, 1]
    assert (board["totals"]["replied"], board["totals"]["completed"]) == (1, 1)
    (shown,) = replied_threads(world)  # no message of theirs: the thread of our steps shows the reply
    assert (shown["lead_id"], shown["channel"], shown["message_count"]) == (str(world.leads["Uma"]), "email", 4)
