import random
from concurrent.futures import ThreadPoolExecutor

from plera.consumers.inprocess import InProcessFeed
from plera.projections.all import ALL
from plera.projections.maintenance import verify
from plera.projections.runner import apply_batch
from plera.projections.sequence_counts import counts, recount

from .world import NAMES, make_world, merge_keeping_each_aggregates_order, read_models, the_usual_story


def test_enrollment_events_before_the_leads_give_the_same_drill_down(services, clock):
    world = make_world(services, clock, NAMES)
    the_usual_story(world)
    envelopes = world.envelopes()
    enrollments_first = [e for e in envelopes if e.aggregate == "enrollment"] + [
        e for e in envelopes if e.aggregate != "enrollment"
    ]

    with services.db.pool.connection() as conn:
        apply_batch(conn, ALL, enrollments_first, {}, consumer="interleaving-test")
    interleaved = read_models(services, world)
    InProcessFeed(services, ALL).catch_up()  # the same events in log order, as redelivery

    assert read_models(services, world) == interleaved
    assert sorted(i["name"] for i in interleaved["leads"]["items"]) == sorted(f"{n} Tester" for n in NAMES)
    assert interleaved["dashboard"]["totals"]["active"] == 3
    assert verify(services, ALL) == []  # and equal, row for row, to a rebuild in log order


def test_any_interleaving_of_aggregates_gives_the_rows_a_rebuild_gives(services, clock):
    world = make_world(services, clock, NAMES)
    the_usual_story(world)
    shuffled = merge_keeping_each_aggregates_order(world.envelopes(), random.Random(20260302))

    with services.db.pool.connection() as conn:
        for start in range(0, len(shuffled), 7):
            apply_batch(conn, ALL, shuffled[start : start + 7], {}, consumer="interleaving-test")
    InProcessFeed(services, ALL).catch_up()

    assert verify(services, ALL) == []


def test_two_consumers_at_once_neither_deadlock_nor_miscount(services, clock):
    world = make_world(services, clock, NAMES)
    the_usual_story(world)
    envelopes = world.envelopes()
    shards = [[e for e in envelopes if e.aggregate_id.int % 2 == k] for k in (0, 1)]

    def consume(shard):
        with services.db.pool.connection() as conn:
            for start in range(0, len(shard), 3):
                apply_batch(conn, ALL, shard[start : start + 3], {}, consumer="two-consumers-test")

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(consume, shards))
    InProcessFeed(services, ALL).catch_up()

    with services.db.pool.connection() as conn:
        kept = counts(conn, [world.sequence_id])[world.sequence_id]
        assert {key: value for key, value in kept.items() if value} == recount(conn, world.sequence_id)
    assert verify(services, ALL) == []
