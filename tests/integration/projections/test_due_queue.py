from datetime import timedelta

from plera.aggregates.sequence import Sequence
from plera.commands.sequences import set_sequence_state
from plera.consumers.inprocess import InProcessFeed
from plera.projections.all import ALL
from plera.projections.due_queue import due_steps, queued_steps

from .world import ACTOR, NAMES, make_world, the_usual_story


def test_the_due_queue_holds_scheduled_steps_flags_paused_leads_and_drops_stopped_ones(services, clock):
    world = make_world(services, clock, NAMES)
    the_usual_story(world)
    InProcessFeed(services, ALL).catch_up()

    with services.db.pool.connection() as conn:
        queue = queued_steps(conn, world.workspace_id)
        due_now = due_steps(conn, clock.now(), 100, workspace_id=world.workspace_id)
        due_later = due_steps(conn, clock.now() + timedelta(days=4), 100, workspace_id=world.workspace_id)

    by_lead = {row["lead_id"]: row for row in queue}
    assert set(by_lead) == {world.leads["Eve"], world.leads["Cat"]}  # Fay's row went when she was stopped
    eve, cat = by_lead[world.leads["Eve"]], by_lead[world.leads["Cat"]]
    assert (eve["step"], eve["channel"], eve["paused"]) == (1, "email", True)
    assert (cat["step"], cat["channel"], cat["paused"]) == (2, "email", False)
    sequence = services.events.get(world.sequence_id, Sequence)
    assert (cat["sequence_id"], cat["enrollment_id"], cat["sender_id"]) == (
        world.sequence_id,
        world.enrollment("Cat"),
        sequence.senders["email"][0],  # the sender the lead keeps, recorded when it enrolled
    )
    assert due_now == []  # Eve is paused and Cat's step 2 is three days away
    assert [(r["lead_id"], r["step"]) for r in due_later] == [(world.leads["Cat"], 2)]


def test_due_steps_come_earliest_first_and_wait_while_the_sequence_is_paused(services, clock):
    world = make_world(services, clock, ["Ann", "Ben", "Cat"])
    world.send("Ann", 1)
    world.schedule_next("Ann", days=2)
    world.send("Ben", 1)
    world.schedule_next("Ben", days=1)
    feed = InProcessFeed(services, ALL)
    feed.catch_up()

    with services.db.pool.connection() as conn:
        due = due_steps(conn, clock.now() + timedelta(days=3), 10, workspace_id=world.workspace_id)
    assert [(r["lead_id"], r["step"]) for r in due] == [
        (world.leads["Cat"], 1),
        (world.leads["Ben"], 2),
        (world.leads["Ann"], 2),
    ]

    set_sequence_state(services, world.workspace_id, world.sequence_id, "pause", ACTOR)
    feed.catch_up()
    with services.db.pool.connection() as conn:
        assert due_steps(conn, clock.now() + timedelta(days=3), 10, workspace_id=world.workspace_id) == []
        assert len(queued_steps(conn, world.workspace_id)) == 3  # kept, waiting


def test_a_step_retried_after_a_failure_is_queued_again_once(services, clock):
    world = make_world(services, clock, ["Ann"])
    world.fail("Ann", 1, retryable=True)
    world.schedule_next("Ann", days=1)
    feed = InProcessFeed(services, ALL)
    feed.catch_up()

    with services.db.pool.connection() as conn:
        queue = queued_steps(conn, world.workspace_id)
    assert [(r["step"], r["eligible_at"]) for r in queue] == [
        (1, clock.now() - timedelta(minutes=1) + timedelta(days=1))
    ]

    world.send("Ann", 1)
    feed.catch_up()
    with services.db.pool.connection() as conn:
        assert queued_steps(conn, world.workspace_id) == []
