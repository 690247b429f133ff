"""LinkedIn provider events through the signed webhook: acceptance releases the message step, a message is a reply."""

from __future__ import annotations

import json
import time
from datetime import timedelta

from fastapi.testclient import TestClient

from plera.aggregates.enrollment import StepStatus
from plera.aggregates.lead_inbox import thread_id_of
from plera.aggregates.workspace import Workspace
from plera.api import create_app
from plera.channels.signatures import signed_headers
from plera.commands.inbox import reply_in_thread
from plera.projections.inbox import thread

STEPS = [
    {"channel": "linkedin_invite", "delay_days": 0, "condition": "always"},
    {"channel": "linkedin_message", "delay_days": 1, "condition": "no_reply"},
    {"channel": "email", "delay_days": 2, "condition": "no_reply"},
]
ANA = {
    "first_name": "Ana",
    "email": "ana@acme.example",
    "linkedin_url": "https://www.linkedin.com/in/ana/",
    "timezone": "Europe/Berlin",
}


def post_event(world, client: TestClient, event: dict, *, secret: str | None = None, stamp: int | None = None):
    workspace = world.sv.events.get(world.workspace_id, Workspace)
    body = json.dumps(event).encode()
    headers = signed_headers(secret or world.sv.vault.get(workspace.webhook_secret_id), stamp or int(time.time()), body)
    return client.post(f"/v1/webhooks/{world.workspace_id}/linkedin", content=body, headers=headers)


def event(kind: str, event_id: str, **more) -> dict:
    return {"type": kind, "event_id": event_id, "account_id": "alex", "profile_url": "linkedin.com/in/ana", **more}


def test_an_accepted_invite_releases_the_waiting_message_and_a_linkedin_message_is_a_reply(world):
    world.import_leads(ANA)
    world.launch(steps=STEPS)
    world.advance(hours=1)  # Monday 09:00 Berlin: the invite goes
    assert len(world.invites()) == 1
    world.advance(days=2)  # the message step is due, but the invite is not accepted: it waits
    assert world.sandbox.sandbox.state()["messages"] == []
    assert world.enrollment("Ana").step_status(2) is StepStatus.SCHEDULED

    with TestClient(create_app(world.sv)) as client:
        world.sandbox.sandbox.accept({"account_id": "alex", "profile_url": "https://www.linkedin.com/in/ana"})
        accepted = post_event(world, client, event("invite_accepted", "e1", invitation_id="i1"))
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["enrollments"] == 1
        assert post_event(world, client, event("invite_accepted", "e1", invitation_id="i1")).json()["enrollments"] == 0
        world.advance(minutes=10)  # the sender's next slot: sends of one sender are spread out
        assert [m["text"] for m in world.sandbox.sandbox.state()["messages"]] == ["Thanks for connecting, Ana."]

        replied = post_event(world, client, event("message_received", "e2", message_id="m1", text="Not now"))
        assert replied.status_code == 202
    enrollment = world.enrollment("Ana")
    assert enrollment.replied_at is not None
    assert enrollment.step_status(3) is StepStatus.SKIPPED and enrollment.status == "stopped"
    world.advance(days=5)
    assert world.emails_to("ana@acme.example") == []


def test_a_bad_or_stale_signature_gets_401_and_records_nothing(world):
    world.import_leads(ANA)
    world.launch(steps=STEPS)
    world.advance(hours=1)
    before = world.enrollment("Ana").version
    with TestClient(create_app(world.sv)) as client:
        wrong = post_event(world, client, event("message_received", "e3", text="hi"), secret="not-the-secret")
        stale = post_event(world, client, event("message_received", "e4", text="hi"), stamp=int(time.time()) - 301)
        unknown = client.post(f"/v1/webhooks/{world.workspace_id}/linkedin", content=b"{}")
    for response in (wrong, stale, unknown):
        assert response.status_code == 401
        assert response.json()["code"] == "bad_signature"
    assert world.enrollment("Ana").version == before


def test_a_manual_answer_in_a_linkedin_thread_goes_out_as_a_linkedin_message(world):
    world.import_leads(ANA)
    world.launch(steps=STEPS)
    world.advance(hours=1)
    with TestClient(create_app(world.sv)) as client:
        world.sandbox.sandbox.accept({"account_id": "alex", "profile_url": "https://www.linkedin.com/in/ana"})
        post_event(world, client, event("invite_accepted", "e1", invitation_id="i1"))
        world.advance(days=1)
        world.advance(minutes=10)
        post_event(world, client, event("message_received", "e2", message_id="m1", text="Tell me more"))
    world.catch_up()
    world.clock.advance(timedelta(minutes=20))  # the user reads it, and answers
    thread_id = thread_id_of(world.leads["Ana"], "linkedin", world.senders["linkedin"])

    sent = reply_in_thread(world.sv, world.workspace_id, thread_id, "Gladly: here is how it works.", "alex")

    assert (sent["channel"], sent["subject"], sent["to"]) == ("linkedin", None, ANA["linkedin_url"])
    texts = [m["text"] for m in world.sandbox.sandbox.state()["messages"]]
    assert texts == ["Thanks for connecting, Ana.", "Gladly: here is how it works."]
    assert world.emails_to("ana@acme.example") == []
    world.catch_up()
    with world.sv.db.pool.connection() as conn:
        shown = thread(conn, world.workspace_id, thread_id)
    assert shown is not None
    assert [(m["direction"], m["text"]) for m in shown["messages"]][-2:] == [
        ("in", "Tell me more"),
        ("out", "Gladly: here is how it works."),
    ]
