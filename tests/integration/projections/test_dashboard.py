from plera.consumers.inprocess import InProcessFeed
from plera.projections.all import ALL
from plera.projections.dashboard import sequence_dashboard
from plera.projections.sequence_counts import counts, recount

from .world import NAMES, make_world, the_usual_story


def test_the_dashboard_counts_each_step_and_credits_a_reply_to_the_last_step_sent(services, clock):
    world = make_world(services, clock, NAMES)
    the_usual_story(world)
    InProcessFeed(services, ALL).catch_up()

    with services.db.pool.connection() as conn:
        board = sequence_dashboard(conn, world.workspace_id, world.sequence_id)

    assert board is not None
    assert board["status"] == "active"
    assert board["totals"] == {"enrolled": 7, "active": 3, "replied": 2, "completed": 0, "stopped": 3, "paused": 1}
    intro, follow_up, break_up = board["steps"]
    assert (intro["name"], intro["channel"], follow_up["name"], break_up["channel"]) == (
        "Intro",
        "email",
        "Follow-up",
        "linkedin_message",
    )
    # Step 1: Ann, Ben and Cat sent; Dan failed; Gus unknown; Eve (paused) still scheduled; Fay stopped.
    assert {k: intro[k] for k in ("leads_at_step", "scheduled", "sent", "failed", "outcome_unknown", "skipped")} == {
        "leads_at_step": 0,
        "scheduled": 1,
        "sent": 3,
        "failed": 1,
        "outcome_unknown": 1,
        "skipped": 0,
    }
    assert (intro["replied"], intro["reply_rate"]) == (1, 1 / 3)  # Ben replied after step 1
    # Step 2: Cat waits for it (scheduled); Dan and Gus are at it; Ann got it and replied; Ben skipped it.
    assert {k: follow_up[k] for k in ("leads_at_step", "scheduled", "sent", "replied", "skipped")} == {
        "leads_at_step": 3,
        "scheduled": 1,
        "sent": 1,
        "replied": 1,
        "skipped": 1,
    }
    assert follow_up["reply_rate"] == 1.0
    # Step 3: skipped for both who replied; nothing sent, so the rate is 0.
    assert (break_up["skipped"], break_up["sent"], break_up["reply_rate"], break_up["leads_at_step"]) == (2, 0, 0.0, 0)
    for step in board["steps"]:
        assert step["accepted"] == 0 and step["bounced"] == 0  # no events for these yet


def test_a_reply_is_counted_once_per_lead(services, clock):
    world = make_world(
        services, clock, ["Ann"], steps=[{"channel": "email", "delay_days": 0, "condition": "always"}] * 2
    )
    world.send("Ann", 1)
    world.reply("Ann")
    world.schedule_next("Ann", days=0)
    world.send("Ann", 2)  # an `always` step still goes out after a reply
    world.reply("Ann")
    InProcessFeed(services, ALL).catch_up()

    with services.db.pool.connection() as conn:
        board = sequence_dashboard(conn, world.workspace_id, world.sequence_id)

    assert board is not None
    assert [(s["sent"], s["replied"]) for s in board["steps"]] == [(1, 1), (1, 0)]
    assert board["totals"]["replied"] == 1


def test_the_dashboard_of_another_workspaces_sequence_is_none(services, clock):
    world = make_world(services, clock, ["Ann"])
    other = make_world(services, clock, ["Ben"])
    InProcessFeed(services, ALL).catch_up()

    with services.db.pool.connection() as conn:
        assert sequence_dashboard(conn, other.workspace_id, world.sequence_id) is None


def test_the_counters_agree_with_a_recount_of_the_enrollments(services, clock):
    world = make_world(services, clock, NAMES)
    the_usual_story(world)
    InProcessFeed(services, ALL).catch_up()

    with services.db.pool.connection() as conn:
        kept = counts(conn, [world.sequence_id])[world.sequence_id]
        derived = recount(conn, world.sequence_id)

    assert {key: value for key, value in kept.items() if value} == derived
