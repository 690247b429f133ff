from plera.consumers.inprocess import InProcessFeed
from plera.projections.all import ALL
from plera.projections.maintenance import verify
from plera.projections.runner import apply_batch
from plera.projections.sequence_counts import counts, recount

from .world import NAMES, make_world, read_models, the_usual_story


def test_redelivered_events_change_no_number(services, clock):
    world = make_world(services, clock, NAMES)
    the_usual_story(world)
    InProcessFeed(services, ALL).catch_up()
    before = read_models(services, world)
    envelopes = world.envelopes()

    with services.db.pool.connection() as conn:
        apply_batch(conn, ALL, envelopes, {}, consumer="redelivery-test")  # the whole history again
        apply_batch(conn, ALL, [e for e in envelopes for _ in "xx"], {}, consumer="redelivery-test")  # each twice
        apply_batch(conn, ALL, envelopes[::-1], {}, consumer="redelivery-test")  # older after newer

    assert read_models(services, world) == before
    assert before["dashboard"]["totals"]["enrolled"] == 7


def test_a_consumer_restarted_mid_way_counts_nothing_twice(services, clock):
    world = make_world(services, clock, NAMES)
    the_usual_story(world)
    envelopes = world.envelopes()
    half, quarter = len(envelopes) // 2, len(envelopes) // 4

    with services.db.pool.connection() as conn:
        apply_batch(conn, ALL, envelopes[:half], {}, consumer="restart-test")
        apply_batch(conn, ALL, envelopes[quarter:], {}, consumer="restart-test")  # resumes from an older offset
    resumed = read_models(services, world)
    InProcessFeed(services, ALL).catch_up()  # the log, in order, on top: nothing changes

    assert read_models(services, world) == resumed
    totals = resumed["dashboard"]["totals"]
    assert (totals["enrolled"], totals["replied"], totals["stopped"]) == (7, 2, 3)
    assert [s["sent"] for s in resumed["dashboard"]["steps"]] == [3, 1, 0]


def test_older_events_after_newer_ones_change_no_number(services, clock):
    world = make_world(services, clock, NAMES)
    the_usual_story(world)
    InProcessFeed(services, ALL).catch_up()
    before = read_models(services, world)

    with services.db.pool.connection() as conn:
        for envelope in world.envelopes()[::-1]:  # each in a batch of its own: a batch is applied in version order
            apply_batch(conn, ALL, [envelope], {}, consumer="redelivery-test")

    assert read_models(services, world) == before


def test_an_enrollment_delivered_again_from_its_start_with_newer_events_counts_each_once(services, clock):
    """As when the relay publishes again from an older position: the batch has LeadEnrolled and
    events the read models have, around events they lack."""
    world = make_world(services, clock, NAMES)
    the_usual_story(world)
    envelopes = world.envelopes()
    ann = [e for e in envelopes if e.aggregate_id == world.enrollment("Ann")]
    lacking = ann[3:]

    with services.db.pool.connection() as conn:
        apply_batch(conn, ALL, [e for e in envelopes if e not in lacking], {}, consumer="republish-test")
        apply_batch(conn, ALL, [lacking[0], *ann[:3], *lacking[1:]], {}, consumer="republish-test")
    republished = read_models(services, world)
    InProcessFeed(services, ALL).catch_up()  # the log, in order, on top: nothing changes

    assert read_models(services, world) == republished
    assert republished["dashboard"]["totals"]["replied"] == 2
    with services.db.pool.connection() as conn:
        kept = counts(conn, [world.sequence_id])[world.sequence_id]
        assert {key: value for key, value in kept.items() if value} == recount(conn, world.sequence_id)
    assert verify(services, ALL) == []
