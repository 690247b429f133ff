from plera.commands.enrollments import control_enrollment
from plera.consumers.inprocess import InProcessFeed
from plera.projections.all import ALL
from plera.projections.maintenance import rebuild, verify

from .world import ACTOR, NAMES, make_world, read_models, the_usual_story


def test_verify_agrees_after_a_scenario_and_names_corrupted_rows_which_a_rebuild_repairs(services, clock):
    world = make_world(services, clock, NAMES)
    the_usual_story(world)
    InProcessFeed(services, ALL).catch_up()
    assert verify(services, ALL) == []
    assert verify(services, ALL, workers=1) == []  # one shard or two: the same rows
    before = read_models(services, world)

    cat = world.enrollment("Cat")
    with services.db.pool.connection() as conn:
        conn.execute("UPDATE read.enrollments SET status = 'paused' WHERE id = %s", (cat,))
        conn.execute(
            "DELETE FROM read.lead_timeline WHERE aggregate_id = %s AND type = 'MessageSent'",
            (world.enrollment("Ann"),),
        )
    differences = verify(services, ALL)

    assert f"enrollments id={cat}: status is 'paused' live, 'active' rebuilt" in differences
    missing = [d for d in differences if d.startswith("lead_timeline") and d.endswith("missing from live")]
    assert len(missing) == 2  # Ann's two sends
    assert len(differences) == 3

    reached = []
    events, seconds = rebuild(services, ALL, progress=lambda done, last: reached.append((done, last)))
    assert events > 0 and seconds > 0
    assert reached and reached[-1][0] == reached[-1][1]
    assert verify(services, ALL) == []
    assert read_models(services, world) == before


def test_verify_compares_as_of_the_live_position_when_the_feed_lags(services, clock):
    world = make_world(services, clock, ["Ann", "Ben"])
    feed = InProcessFeed(services, ALL)
    feed.catch_up()
    control_enrollment(services, world.workspace_id, world.enrollment("Ann"), "pause", ACTOR)
    world.send("Ben", 1)  # recorded, not yet fed

    assert verify(services, ALL) == []
    feed.catch_up()
    assert verify(services, ALL) == []


def test_rebuilding_one_projection_leaves_the_others_and_the_feed_consistent(services, clock):
    world = make_world(services, clock, ["Ann"])
    feed = InProcessFeed(services, ALL)
    feed.catch_up()
    world.send("Ann", 1)  # not yet fed when the rebuild runs

    timeline = [p for p in ALL if p.name == "lead_timeline"]
    rebuild(services, timeline)
    feed.catch_up()

    assert verify(services, ALL) == []
