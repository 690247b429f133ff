"""Rows written in bulk a few at a time, while the batch goes on, give the rows a rebuild gives."""

import pytest

from plera.consumers.inprocess import InProcessFeed
from plera.projections import due_queue, enrollment_writes, inbox, lead_timeline, leads
from plera.projections.all import ALL
from plera.projections.maintenance import verify
from plera.projections.runner import apply_batch

from .world import NAMES, make_world, read_models, the_usual_story


@pytest.fixture
def small_chunks(monkeypatch):
    """Every bulk write goes after two rows (500 in use), so a small world takes every path."""
    for module in (due_queue, enrollment_writes, inbox, lead_timeline, leads):
        monkeypatch.setattr(module, "CHUNK", 2)


def test_a_batch_written_two_rows_at_a_time_gives_the_rows_of_the_log_in_order(services, clock, small_chunks):
    world = make_world(services, clock, NAMES)
    the_usual_story(world)
    envelopes = world.envelopes()

    with services.db.pool.connection() as conn:
        apply_batch(conn, ALL, envelopes, {}, consumer="chunks-test")
        at_once = read_models(services, world)
        apply_batch(conn, ALL, [e for e in envelopes for _ in "xx"], {}, consumer="chunks-test")  # each twice
    InProcessFeed(services, ALL).catch_up()

    assert read_models(services, world) == at_once
    assert at_once["dashboard"]["totals"]["enrolled"] == 7
    assert verify(services, ALL) == []


def test_rows_loaded_while_bulk_writes_are_in_flight_are_the_rows_asked_for(services, clock, small_chunks):
    """The second batch loads enrollments the first one wrote, between bulk writes of its own."""
    world = make_world(services, clock, NAMES)
    the_usual_story(world)
    envelopes = world.envelopes()
    half = len(envelopes) // 2

    with services.db.pool.connection() as conn:
        apply_batch(conn, ALL, envelopes[:half], {}, consumer="chunks-test")
        apply_batch(conn, ALL, envelopes[half:], {}, consumer="chunks-test")
    in_two = read_models(services, world)
    InProcessFeed(services, ALL).catch_up()

    assert read_models(services, world) == in_two
    assert verify(services, ALL) == []
