"""The inbox read model: threads of a lead, a channel and a sender, with our steps and the person's mail.

Steps go out through the LeadEnrollment aggregate (with one sender, so they share a thread), the
person's mail and the read marks are recorded on the Lead, and unmatched mail on the Workspace.
"""

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID, uuid4

from plera.aggregates.enrollment import LeadEnrollment, message_id_for
from plera.aggregates.lead import Lead
from plera.aggregates.lead_inbox import thread_id_of
from plera.aggregates.unmatched_mail import UnmatchedMail
from plera.aggregates.workspace import Workspace
from plera.consumers.inprocess import InProcessFeed
from plera.projections.all import ALL
from plera.projections.inbox import ours_among, thread, threads, unmatched_thread_id
from plera.projections.maintenance import verify
from plera.projections.registry import Projection
from plera.projections.runner import apply_batch

from .world import World, make_world, merge_keeping_each_aggregates_order

SENDER = UUID("5e4de400-0000-4000-8000-000000000001")
STRANGER = "Stranger@Elsewhere.example"


def _change_enrollment(world: World, name: str, change) -> None:
    enrollment = world.sv.events.get(world.enrollment(name), LeadEnrollment)
    change(enrollment, world.clock.now())
    world.sv.events.save(enrollment)
    world.tick()


def _change_lead(world: World, name: str, change) -> None:
    lead = world.sv.events.get(world.leads[name], Lead)
    change(lead, world.clock.now())
    world.sv.events.save(lead)
    world.tick()


def dispatch(world: World, name: str, step: int, *, sender: UUID = SENDER) -> str:
    message_ids = []

    def dispatched(e, at):
        message_ids.append(message_id_for(e.id, step, e.message_attempt(step)))
        e.dispatch(step=step, message_id=message_ids[0], sender_id=sender, at=at, actor="worker")

    _change_enrollment(world, name, dispatched)
    return message_ids[0]


def send(world: World, name: str, step: int = 1, *, sender: UUID = SENDER) -> str:
    message_id = dispatch(world, name, step, sender=sender)
    _change_enrollment(world, name, lambda e, at: e.record_sent(step=step, at=at, actor="worker"))
    return message_id


def receive(world: World, name: str, text: str, *, classification: str = "reply", subject: str = "Re: Hello") -> str:
    message_id = f"<{uuid4()}@mail.example>"
    _change_lead(
        world,
        name,
        lambda lead, at: lead.record_received(
            channel="email",
            sender_id=SENDER,
            message_id=message_id,
            subject=subject,
            text=text,
            classification=classification,
            in_reply_to=None,
            at=at,
            actor="webhook",
        ),
    )
    return message_id


def mark(world: World, name: str, *, read: bool) -> None:
    thread_id = thread_of(world, name)
    _change_lead(world, name, lambda lead, at: lead.mark_thread(thread_id=thread_id, read=read, at=at, actor="test"))


def answer(world: World, name: str, text: str) -> str:
    message_id = f"<manual-{uuid4()}@plera>"
    _change_lead(
        world,
        name,
        lambda lead, at: lead.record_manual_reply(
            channel="email",
            sender_id=SENDER,
            message_id=message_id,
            subject="Re: Hello",
            text=text,
            in_reply_to=None,
            at=at,
            actor="test",
        ),
    )
    return message_id


def unmatched(world: World, text: str, address: str = STRANGER, *, legacy: bool = False) -> None:
    """Mail of no lead, as an UnmatchedMail of its own, or (legacy) as stores before decision 0009 hold it."""
    fields = {
        "workspace_id": world.workspace_id,
        "message_id": f"<{uuid4()}@elsewhere.example>",
        "from_address": address,
        "subject": "Who is this?",
        "text": text,
        "classification": "reply",
    }
    if legacy:
        workspace = world.sv.events.get(world.workspace_id, Workspace)
        workspace.trigger_event(Workspace.UnmatchedMailReceived, timestamp=world.clock.now(), actor="webhook", **fields)
        world.sv.events.save(workspace)
    else:
        world.sv.events.save(UnmatchedMail.receive(**fields, at=world.clock.now(), actor="webhook"))
    world.tick()


def thread_of(world: World, name: str) -> UUID:
    return thread_id_of(world.leads[name], "email", SENDER)


def inbox_story(world: World) -> None:
    """Ann replied; Ben is out of office; Cat's step bounced; Dan's failed for good (no thread);
    Eve got step 1 and said nothing; a stranger wrote twice."""
    send(world, "Ann", 1)
    receive(world, "Ann", "Sounds good, tell me more. " * 20)
    send(world, "Ben", 1)
    receive(world, "Ben", "I am away until Monday.", classification="auto_reply", subject="Automatic reply: Hello")
    cat = send(world, "Cat", 1)
    _change_enrollment(
        world,
        "Cat",
        lambda e, at: e.record_bounce(message_id=cat, hard=True, reason="550 no such user", at=at, actor="w"),
    )
    dispatch(world, "Dan", 1)
    _change_enrollment(
        world, "Dan", lambda e, at: e.record_failed(step=1, retryable=False, reason="550", at=at, actor="worker")
    )
    send(world, "Eve", 1)
    unmatched(world, "Hello?")
    unmatched(world, "Anyone?", address=STRANGER.lower(), legacy=True)


NAMES = ["Ann", "Ben", "Cat", "Dan", "Eve"]


def inbox_view(world: World) -> dict:
    with world.sv.db.pool.connection() as conn:
        listed = threads(conn, world.workspace_id, limit=500)["items"]
        return {"list": listed, "threads": [thread(conn, world.workspace_id, UUID(t["id"])) for t in listed]}


def _ids(page) -> list[str]:
    return [t["id"] for t in page["items"]]


def test_a_reply_lands_in_the_thread_of_the_step_it_answers(services, clock):
    world = make_world(services, clock, NAMES)
    inbox_story(world)
    InProcessFeed(services, ALL).catch_up()

    with services.db.pool.connection() as conn:
        ann = thread(conn, world.workspace_id, thread_of(world, "Ann"))

    assert ann is not None
    assert [(m["direction"], m["step"], m["status"]) for m in ann["messages"]] == [
        ("out", 1, "sent"),
        ("in", None, "received"),
    ]
    ours, hers = ann["messages"]
    assert ours["text"] is None and ours["subject"] is None and ours["channel"] == "email"
    assert ours["enrollment_id"] == str(world.enrollment("Ann")) and ours["sequence_id"] == str(world.sequence_id)
    assert hers["classification"] == "reply" and hers["subject"] == "Re: Hello"
    assert ann["subject"] == "Hello"  # the conversation's, without the reply prefix
    assert ann["lead_id"] == str(world.leads["Ann"]) and ann["lead_name"] == "Ann Tester"
    assert ann["sender_id"] == str(SENDER) and ann["channel"] == "email"
    assert ann["sequence_id"] == str(world.sequence_id) and ann["sequence_name"] == "Founders sequence"
    assert (ann["last_direction"], ann["last_classification"], ann["message_count"]) == ("in", "reply", 2)
    assert ann["last_preview"] == hers["text"][:200] and len(ann["last_preview"]) == 200
    assert ann["last_message_at"] == hers["at"] == ann["last_inbound_at"]
    assert (ann["unread"], ann["replied"], ann["ooo"], ann["bounced"], ann["unmatched"]) == (
        True,
        True,
        False,
        False,
        False,
    )


def test_each_status_filter_picks_its_threads_and_the_list_is_newest_first(services, clock):
    world = make_world(services, clock, NAMES)
    inbox_story(world)
    InProcessFeed(services, ALL).catch_up()
    ann, ben, cat, eve = (str(thread_of(world, n)) for n in ("Ann", "Ben", "Cat", "Eve"))
    stranger = str(unmatched_thread_id(world.workspace_id, STRANGER))

    with services.db.pool.connection() as conn:
        ws = world.workspace_id

        def listed(**filters):
            return _ids(threads(conn, ws, **filters))

        assert listed() == [stranger, eve, cat, ben, ann]  # Dan's step never went out: no thread
        assert listed(status="unread") == [ben, ann]
        assert listed(status="replied") == [ann]
        assert listed(status="ooo") == [ben]
        assert listed(status="bounced") == [cat]
        assert listed(status="unmatched") == [stranger]
        assert listed(sequence_id=world.sequence_id) == [eve, cat, ben, ann]
        assert listed(sender_id=SENDER, status="unread") == [ben, ann]
        assert listed(sender_id=uuid4()) == []
        assert listed(sequence_id=uuid4()) == []
        other = make_world(services, clock, ["Zed"])
        assert _ids(threads(conn, other.workspace_id)) == []
        strangers = thread(conn, ws, UUID(stranger))
        assert thread(conn, other.workspace_id, UUID(ann)) is None

    assert strangers is not None
    assert strangers["from_address"] == STRANGER.lower() and strangers["lead_id"] is None
    assert [m["text"] for m in strangers["messages"]] == ["Hello?", "Anyone?"]
    assert (strangers["unmatched"], strangers["unread"], strangers["subject"]) == (True, False, "Who is this?")
    cats = inbox_view(world)["threads"][2]
    assert [(m["status"], m["reason"]) for m in cats["messages"]] == [("bounced", "550 no such user")]


def test_a_read_thread_turns_unread_again_when_the_person_writes_and_an_answer_reads_it(services, clock):
    world = make_world(services, clock, ["Ann"])
    feed = InProcessFeed(services, ALL)

    def unread() -> bool:
        feed.catch_up()
        with services.db.pool.connection() as conn:
            found = thread(conn, world.workspace_id, thread_of(world, "Ann"))
        assert found is not None
        return bool(found["unread"])

    send(world, "Ann", 1)
    assert unread() is False  # only our step: nothing to read
    receive(world, "Ann", "Yes?")
    assert unread() is True
    mark(world, "Ann", read=True)
    assert unread() is False
    receive(world, "Ann", "Hello again")
    assert unread() is True
    answer(world, "Ann", "Here is more")
    assert unread() is False
    mark(world, "Ann", read=False)
    assert unread() is True
    mark(world, "Ann", read=True)
    receive(world, "Ann", "Thanks", classification="auto_reply")
    assert unread() is True


def test_a_step_sent_again_after_a_passing_failure_shows_once_in_the_thread_of_its_last_sender(services, clock):
    world = make_world(services, clock, ["Ann", "Ben"])
    other = uuid4()
    for name, second_sender in (("Ann", SENDER), ("Ben", other)):
        first = dispatch(world, name, 1)
        _change_enrollment(
            world, name, lambda e, at: e.record_failed(step=1, retryable=True, reason="421", at=at, actor="worker")
        )
        _change_enrollment(
            world, name, lambda e, at: e.schedule(step=1, eligible_at=at, sequence_running=True, at=at, actor="worker")
        )
        assert send(world, name, 1, sender=second_sender) == first  # the same message, sent again
    InProcessFeed(services, ALL).catch_up()

    with services.db.pool.connection() as conn:
        ann = thread(conn, world.workspace_id, thread_of(world, "Ann"))
        ben_before = thread(conn, world.workspace_id, thread_of(world, "Ben"))
        ben = thread(conn, world.workspace_id, thread_id_of(world.leads["Ben"], "email", other))

    assert ann is not None and [(m["status"], m["step"]) for m in ann["messages"]] == [("sent", 1)]
    assert ben_before is None  # its first sender's thread shows nothing: the message went from the other
    assert ben is not None and [m["status"] for m in ben["messages"]] == ["sent"]
    assert verify(services, ALL) == []


def test_mail_answering_one_of_our_messages_finds_its_thread(services, clock):
    world = make_world(services, clock, ["Ann"])
    step = send(world, "Ann", 1)
    theirs = receive(world, "Ann", "Yes?")
    manual = answer(world, "Ann", "Here is more")
    InProcessFeed(services, ALL).catch_up()

    with services.db.pool.connection() as conn:
        found = ours_among(conn, world.workspace_id, ["<unknown@x>", manual, step])
        assert ours_among(conn, world.workspace_id, [theirs]) is None  # the person's, not ours
        assert ours_among(conn, uuid4(), [manual]) is None

    assert found == {"thread_id": thread_of(world, "Ann"), "lead_id": world.leads["Ann"], "sender_id": SENDER}


def test_pages_follow_each_other_without_gaps_or_repeats(services, clock):
    world = make_world(services, clock, NAMES)
    inbox_story(world)
    InProcessFeed(services, ALL).catch_up()

    with services.db.pool.connection() as conn:
        everything = _ids(threads(conn, world.workspace_id))
        seen, cursor = [], None
        while True:
            page = threads(conn, world.workspace_id, limit=2, cursor=cursor)
            seen += _ids(page)
            cursor = page["next_cursor"]
            if cursor is None:
                break

    assert seen == everything and len(seen) == 5


def test_redelivered_and_reordered_events_change_no_thread(services, clock):
    world = make_world(services, clock, NAMES)
    inbox_story(world)
    mark(world, "Ann", read=True)
    answer(world, "Ben", "Enjoy your time off")
    InProcessFeed(services, ALL).catch_up()
    before = inbox_view(world)
    envelopes = world.envelopes()

    with services.db.pool.connection() as conn:
        apply_batch(conn, ALL, envelopes, {}, consumer="inbox-redelivery")
        apply_batch(conn, ALL, [e for e in envelopes for _ in "xx"], {}, consumer="inbox-redelivery")
        apply_batch(conn, ALL, envelopes[::-1], {}, consumer="inbox-redelivery")

    assert inbox_view(world) == before
    assert [t["unread"] for t in before["list"]] == [False] * 5
    assert verify(services, ALL) == []


def test_any_interleaving_of_the_lead_and_its_enrollments_gives_the_rows_a_rebuild_gives(services, clock):
    world = make_world(services, clock, NAMES)
    inbox_story(world)
    mark(world, "Ann", read=True)
    receive(world, "Ann", "One more thing")
    envelopes = world.envelopes()
    leads_first = [e for e in envelopes if e.aggregate != "enrollment"] + [
        e for e in envelopes if e.aggregate == "enrollment"
    ]

    with services.db.pool.connection() as conn:
        apply_batch(conn, ALL, leads_first, {}, consumer="inbox-interleaving")
    interleaved = inbox_view(world)
    shuffled = merge_keeping_each_aggregates_order(envelopes, random.Random(20260302))
    with services.db.pool.connection() as conn:
        for start in range(0, len(shuffled), 5):
            apply_batch(conn, ALL, shuffled[start : start + 5], {}, consumer="inbox-interleaving")
    InProcessFeed(services, ALL).catch_up()

    assert inbox_view(world) == interleaved
    assert [t["unread"] for t in interleaved["list"] if t["lead_name"] == "Ann Tester"] == [True]
    assert verify(services, ALL) == []


def test_two_consumers_writing_one_thread_at_once_leave_it_whole(services, clock):
    """The lead's events and its enrollment's go to different consumers, which may recompute one
    thread at the same time: the second waits for the first's lock, then sees its rows."""
    world = make_world(services, clock, ["Ann"])
    send(world, "Ann", 1)
    receive(world, "Ann", "Tell me more")
    envelopes = world.envelopes()
    sent = next(e for e in envelopes if e.type == "MessageSent")
    received = next(e for e in envelopes if e.type == "MessageReceived")
    with services.db.pool.connection() as conn:
        apply_batch(conn, ALL, [e for e in envelopes if e not in (sent, received)], {}, consumer="inbox-two")

    holding, release = threading.Event(), threading.Event()

    def hold(cur) -> None:  # the first consumer, done with its rows, has not committed yet
        holding.set()
        release.wait(10)

    held = Projection(name="held", ddl=[], finish=hold)

    def first() -> None:
        with services.db.pool.connection() as conn:
            apply_batch(conn, [*ALL, held], [received], {}, consumer="inbox-two")

    def second() -> None:
        with services.db.pool.connection() as conn:
            apply_batch(conn, ALL, [sent], {}, consumer="inbox-two")

    with ThreadPoolExecutor(2) as pool:
        done = pool.submit(first)
        assert holding.wait(10)
        waiting = pool.submit(second)
        time.sleep(0.3)
        release.set()
        done.result(10)
        waiting.result(10)

    with services.db.pool.connection() as conn:
        found = thread(conn, world.workspace_id, thread_of(world, "Ann"))
    assert found is not None
    assert [(m["direction"], m["status"]) for m in found["messages"]] == [("out", "sent"), ("in", "received")]
    assert (found["message_count"], found["unread"], found["replied"]) == (2, True, True)
    InProcessFeed(services, ALL).catch_up()
    assert verify(services, ALL) == []
