"""The unified inbox over HTTP: threads and their filters, read marks, paging, and manual answers over real SMTP.

Step 1 goes out through the LeadEnrollment aggregate (from the sequence's SMTP sender); Ann's reply
comes in through the signed inbound-mail webhook, the other people's mail is recorded on their Lead.
"""

import copy
import time
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from uuid import UUID, uuid4

import pytest

from plera.aggregates.enrollment import LeadEnrollment, message_id_for
from plera.aggregates.lead import Lead
from plera.aggregates.lead_inbox import thread_id_of
from plera.aggregates.unmatched_mail import UnmatchedMail
from plera.aggregates.workspace import Workspace
from plera.channels.signatures import signed_headers
from plera.demo import PLAIN_MESSAGES
from plera.projections.inbox import unmatched_thread_id
from tests.fakes.smtp_server import smtp_server  # noqa: F401
from tests.integration.api.conftest import TWO_STEPS, assert_problem

PEOPLE = [
    {"first_name": "Ann", "last_name": "Lee", "email": "ann@ann.example", "company": "Ann Co"},
    {"first_name": "Ben", "last_name": "Moe", "email": "ben@ben.example", "company": "Ben Co"},
    {"first_name": "Cat", "email": "cat@cat.example", "company": "Cat Co"},
]


@pytest.fixture
def outreach(api, services, clock, smtp_server, catch_up):  # noqa: F811
    """A launched two-step sequence whose email sender (daily limit 1) is the fake SMTP server; step 1
    went out to Ann, Ben and Cat; Ann replied by mail, Ben's auto-reply came back."""
    run = api.run()
    group = api.group(run)
    leads = dict(zip(("Ann", "Ben", "Cat"), api.import_leads(group, PEOPLE)["lead_ids"], strict=True))
    api.enrich(group)
    sequence = api.sequence(run, [group], steps=TWO_STEPS)
    smtp = {"host": smtp_server.host, "port": smtp_server.port, "starttls": False}
    sender = api.sender("email", name="Alex", address="alex@plera.example", daily_limit=1, smtp=smtp)
    subject, body = PLAIN_MESSAGES["email"]
    for step in (1, 2):
        message = {"subject": subject if step == 1 else None, "body": body}
        api.ok(api.put(f"/v1/sequences/{sequence}/steps/{step}/message", json=message))
        api.ok(api.post(f"/v1/sequences/{sequence}/steps/{step}/approve"))
    api.ok(api.put(f"/v1/sequences/{sequence}/senders", json={"email": [sender], "linkedin": []}))
    api.ok(api.post(f"/v1/sequences/{sequence}/launch"))
    sent = {
        name: _send_step_1(services, clock, UUID(sequence), UUID(lead), UUID(sender)) for name, lead in leads.items()
    }
    catch_up()  # the webhook finds the step a reply answers in the read model
    reply = _mail_from("ann@ann.example", "Re: A question for Ann Co", "Yes, let's talk.", in_reply_to=sent["Ann"])
    answered = _deliver(services, api, reply)
    assert answered.status_code == 202, answered.text
    clock.advance(timedelta(minutes=1))
    _received(services, clock, UUID(leads["Ben"]), UUID(sender), "Out of office until Monday.", "auto_reply")
    catch_up()
    return {
        "sequence": sequence,
        "sender": sender,
        "leads": leads,
        "sent": sent,
        "reply": str(reply["Message-ID"]),
        "threads": {name: str(thread_id_of(UUID(lead), "email", UUID(sender))) for name, lead in leads.items()},
    }


def _send_step_1(services, clock, sequence_id: UUID, lead_id: UUID, sender_id: UUID) -> str:
    enrollment = services.events.get(LeadEnrollment.create_id(sequence_id, lead_id), LeadEnrollment)
    message_id = message_id_for(enrollment.id, 1, 1)
    enrollment.dispatch(step=1, message_id=message_id, sender_id=sender_id, at=clock.now(), actor="worker")
    clock.advance(timedelta(minutes=1))
    enrollment.record_sent(step=1, at=clock.now(), actor="worker")
    services.events.save(enrollment)
    clock.advance(timedelta(minutes=1))
    return message_id


def _mail_from(address: str, subject: str, text: str, *, in_reply_to: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = address
    message["To"] = "alex@plera.example"
    message["Subject"] = subject
    message["Message-ID"] = f"<{uuid4()}@{address.split('@')[1]}>"
    message["In-Reply-To"] = in_reply_to
    message["References"] = in_reply_to
    message["Date"] = format_datetime(datetime.now(UTC))
    message.set_content(text)
    return message


def _deliver(services, api, message: EmailMessage):
    raw = message.as_bytes()
    workspace = services.events.get(api.workspace_id, Workspace)
    headers = signed_headers(services.vault.get(workspace.webhook_secret_id), int(time.time()), raw)
    headers["Content-Type"] = "message/rfc822"
    return api.client.post(f"/v1/webhooks/{api.workspace_id}/email/inbound", content=raw, headers=headers)


def _received(services, clock, lead_id: UUID, sender_id: UUID, text: str, classification: str) -> None:
    lead = services.events.get(lead_id, Lead)
    lead.record_received(
        channel="email",
        sender_id=sender_id,
        message_id=f"<{uuid4()}@mail.example>",
        subject="Automatic reply: A question",
        text=text,
        classification=classification,
        in_reply_to=None,
        at=clock.now(),
        actor="webhook",
    )
    services.events.save(lead)
    clock.advance(timedelta(minutes=1))


def _ids(body) -> list[str]:
    return [t["id"] for t in body["items"]]


def test_the_inbox_lists_one_thread_per_lead_and_sender_newest_first_and_filters_them(api, outreach):
    ann, ben, cat = (outreach["threads"][n] for n in ("Ann", "Ben", "Cat"))

    listed = api.ok(api.get("/v1/inbox/threads"))
    assert _ids(listed) == [ben, ann, cat] and listed["next_cursor"] is None
    first = listed["items"][1]
    assert first["lead_name"] == "Ann Lee" and first["lead_email"] == "ann@ann.example"
    assert first["sender_name"] == "Alex" and first["sequence_name"] == "Intro"
    assert (first["subject"], first["last_direction"], first["last_classification"]) == (
        "A question for Ann Co",
        "in",
        "reply",
    )
    assert first["last_preview"].startswith("Yes, let's talk.")
    assert (first["unread"], first["replied"], first["ooo"], first["message_count"]) == (True, True, False, 2)

    def filtered(**query) -> list[str]:
        return _ids(api.ok(api.get("/v1/inbox/threads", params=query)))

    assert filtered(status="unread") == [ben, ann]
    assert filtered(status="replied") == [ann]
    assert filtered(status="ooo") == [ben]
    assert filtered(status="bounced") == []
    assert filtered(sequence_id=outreach["sequence"]) == [ben, ann, cat]
    assert filtered(sender_id=outreach["sender"], status="replied") == [ann]
    assert filtered(sender_id=str(uuid4())) == []
    assert_problem(api.get("/v1/inbox/threads", params={"status": "spam"}), 422, "invalid_request")
    assert_problem(api.get("/v1/inbox/threads", params={"sequence_id": "nope"}), 422, "invalid_request")

    detail = api.ok(api.get(f"/v1/inbox/threads/{ann}"))
    assert [(m["direction"], m["step"], m["message_id"]) for m in detail["messages"]] == [
        ("out", 1, outreach["sent"]["Ann"]),
        ("in", None, outreach["reply"]),
    ]
    assert detail["messages"][1]["in_reply_to"] == outreach["sent"]["Ann"]


def test_pages_follow_the_cursor_and_a_foreign_cursor_is_refused(api, outreach):
    seen, cursor = [], None
    while True:
        page = api.ok(api.get("/v1/inbox/threads", params={"limit": 1, **({"cursor": cursor} if cursor else {})}))
        assert len(page["items"]) == 1
        seen += _ids(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == _ids(api.ok(api.get("/v1/inbox/threads")))
    assert_problem(api.get("/v1/inbox/threads", params={"cursor": "garbage"}), 422, "invalid_cursor")
    assert_problem(api.get("/v1/inbox/threads", params={"limit": 501}), 422, "invalid_request")


def test_read_and_unread_marks_move_the_thread_in_and_out_of_the_unread_filter(api, outreach, catch_up):
    ann = outreach["threads"]["Ann"]

    marked = api.ok(api.post(f"/v1/inbox/threads/{ann}/read"))
    assert marked["id"] == ann and marked["unread"] is False
    catch_up()
    assert api.ok(api.get(f"/v1/inbox/threads/{ann}"))["unread"] is False
    assert ann not in _ids(api.ok(api.get("/v1/inbox/threads", params={"status": "unread"})))

    assert api.ok(api.post(f"/v1/inbox/threads/{ann}/unread"))["unread"] is True
    catch_up()
    assert ann in _ids(api.ok(api.get("/v1/inbox/threads", params={"status": "unread"})))
    history = api.ok(api.get(f"/v1/leads/{outreach['leads']['Ann']}/history"))["events"]
    assert [e["type"] for e in history if e["type"].startswith("Thread")] == ["ThreadRead", "ThreadUnread"]


def test_unknown_and_foreign_threads_answer_404(api, new_workspace, outreach):
    ann = outreach["threads"]["Ann"]
    other = new_workspace("Other")
    for path in (f"/v1/inbox/threads/{uuid4()}", "/v1/inbox/threads/not-a-uuid", f"/v1/inbox/threads/{ann}"):
        who = api if ann not in path else other
        assert_problem(who.get(path), 404, "not_found")
        assert_problem(who.post(f"{path}/read"), 404, "not_found")
        assert_problem(who.post(f"{path}/unread"), 404, "not_found")
        assert_problem(who.post(f"{path}/reply", json={"body": "Hi"}), 404, "not_found")
    assert api.ok(other.get("/v1/inbox/threads"))["items"] == []


def test_a_manual_answer_goes_out_threaded_in_the_subject_and_counts_toward_the_senders_limit(
    api,
    services,
    outreach,
    catch_up,
    smtp_server,  # noqa: F811
):
    ann = outreach["threads"]["Ann"]

    answer = api.ok(api.post(f"/v1/inbox/threads/{ann}/reply", json={"body": "Great, Tuesday at 10?"}))

    (mail,) = smtp_server.messages
    assert mail.rcpt_tos == ["ann@ann.example"]
    assert mail.message["Subject"] == "Re: A question for Ann Co" == answer["subject"]
    assert mail.message["In-Reply-To"] == outreach["reply"] == answer["in_reply_to"]
    assert mail.message["References"].split() == [outreach["sent"]["Ann"], outreach["reply"]]
    assert mail.message["Message-ID"] == answer["message_id"] and answer["message_id"].startswith("<manual-")
    assert "alex@plera.example" in mail.message["From"]
    assert mail.message.get_body(("plain",)).get_content().strip() == "Great, Tuesday at 10?"
    with services.db.pool.connection() as conn:
        used = conn.execute("SELECT sum(sent) FROM plera_sender_days WHERE sender_id = %s", (outreach["sender"],))
        assert used.fetchone()[0] == 1

    catch_up()
    thread = api.ok(api.get(f"/v1/inbox/threads/{ann}"))
    assert [m["direction"] for m in thread["messages"]] == ["out", "in", "out"]
    manual = thread["messages"][-1]
    assert (manual["text"], manual["subject"], manual["step"]) == (
        "Great, Tuesday at 10?",
        "Re: A question for Ann Co",
        None,
    )
    assert (thread["last_direction"], thread["unread"], thread["message_count"]) == ("out", False, 3)

    # The sender's daily limit of 1 is used up: the next answer is refused, and nothing goes out.
    refused = api.post(f"/v1/inbox/threads/{outreach['threads']['Ben']}/reply", json={"body": "Enjoy!"})
    assert_problem(refused, 409, "sender_limit_reached")
    assert len(smtp_server.messages) == 1


def test_copies_of_our_own_mail_are_never_taken_for_the_persons(
    api,
    services,
    outreach,
    catch_up,
    smtp_server,  # noqa: F811
):
    """A BCC or a mailbox sync hands our own mail back: known by our message's id (here a manual
    answer's, under another From) or by our sender's address (a note with an id of its own)."""
    ann = outreach["threads"]["Ann"]
    api.ok(api.post(f"/v1/inbox/threads/{ann}/reply", json={"body": "Great, Tuesday at 10?"}))
    catch_up()
    synced = copy.copy(smtp_server.messages[0].message)
    synced.replace_header("From", "Alex <alex.private@home.example>")
    from_our_sender = _mail_from("alex@plera.example", "Note", "Call Ann on Tuesday.", in_reply_to=outreach["reply"])
    stranger = _mail_from("someone@else.example", "Hello", "Who are you?", in_reply_to="<not-ours@else.example>")

    taken = [_deliver(services, api, m).json()["status"] for m in (synced, from_our_sender, stranger)]

    assert taken == ["own_message", "own_message", "unmatched"]
    catch_up()
    assert api.ok(api.get(f"/v1/inbox/threads/{ann}"))["message_count"] == 3


def test_a_suppressed_person_is_not_answered(api, outreach, smtp_server):  # noqa: F811
    suppressed = {"kind": "email", "value": "ben@ben.example", "reason": "asked to be left alone"}
    assert api.post("/v1/suppressions", json=suppressed).status_code in (200, 201)

    refused = api.post(f"/v1/inbox/threads/{outreach['threads']['Ben']}/reply", json={"body": "Sorry!"})

    assert_problem(refused, 409, "suppressed")
    assert smtp_server.messages == []
    assert_problem(api.post(f"/v1/inbox/threads/{outreach['threads']['Ann']}/reply", json={}), 422, "invalid_request")
    assert_problem(
        api.post(f"/v1/inbox/threads/{outreach['threads']['Ann']}/reply", json={"body": ""}), 422, "invalid_request"
    )


def test_unmatched_mail_has_its_own_threads_which_cannot_be_marked_or_answered(api, services, clock, catch_up):
    for text in ("Who are you?", "Hello?"):
        mail = UnmatchedMail.receive(
            workspace_id=api.workspace_id,
            message_id=f"<{uuid4()}@stranger.example>",
            from_address="someone@stranger.example",
            subject="Your email",
            text=text,
            classification="reply",
            at=clock.now(),
            actor="webhook",
        )
        services.events.save(mail)
        clock.advance(timedelta(minutes=1))
    catch_up()
    stranger = str(unmatched_thread_id(api.workspace_id, "someone@stranger.example"))

    listed = api.ok(api.get("/v1/inbox/threads", params={"status": "unmatched"}))

    assert _ids(listed) == [stranger]
    item = listed["items"][0]
    assert (item["lead_id"], item["from_address"], item["message_count"], item["unmatched"]) == (
        None,
        "someone@stranger.example",
        2,
        True,
    )
    assert [m["text"] for m in api.ok(api.get(f"/v1/inbox/threads/{stranger}"))["messages"]] == [
        "Who are you?",
        "Hello?",
    ]
    for action in ("read", "unread"):
        assert_problem(api.post(f"/v1/inbox/threads/{stranger}/{action}"), 409, "unmatched_thread")
    assert_problem(api.post(f"/v1/inbox/threads/{stranger}/reply", json={"body": "Hi"}), 409, "unmatched_thread")


def test_an_answer_the_mail_server_refuses_is_not_recorded_and_gives_its_capacity_back(
    api,
    services,
    outreach,
    catch_up,
    smtp_server,  # noqa: F811
):
    smtp_server.refuse("ann@ann.example", 550, "5.1.1 user unknown")
    ann = outreach["threads"]["Ann"]

    refused = api.post(f"/v1/inbox/threads/{ann}/reply", json={"body": "Hello?"})

    assert_problem(refused, 502, "send_failed")
    assert "550" in refused.json()["detail"]
    with services.db.pool.connection() as conn:
        used = conn.execute("SELECT sum(sent) FROM plera_sender_days WHERE sender_id = %s", (outreach["sender"],))
        assert used.fetchone()[0] == 0
    catch_up()
    assert api.ok(api.get(f"/v1/inbox/threads/{ann}"))["message_count"] == 2
    smtp_server.allow("ann@ann.example")
    assert api.ok(api.post(f"/v1/inbox/threads/{ann}/reply", json={"body": "Hello?"}))["subject"]


def test_an_answer_where_only_our_step_went_takes_the_steps_subject_and_threads_under_it(
    api,
    outreach,
    smtp_server,  # noqa: F811
):
    answer = api.ok(api.post(f"/v1/inbox/threads/{outreach['threads']['Cat']}/reply", json={"body": "Any thoughts?"}))

    (mail,) = smtp_server.messages
    assert mail.message["Subject"] == "Re: A question for Cat Co" == answer["subject"]
    assert mail.message["In-Reply-To"] == outreach["sent"]["Cat"] == answer["in_reply_to"]
    assert mail.message["References"] == outreach["sent"]["Cat"]
