from plera.consumers.inprocess import InProcessFeed
from plera.projections.all import ALL
from plera.projections.runner import apply_batch

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
