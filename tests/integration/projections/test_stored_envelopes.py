"""The envelopes the feeds read straight from the store are the ones the library's domain events give."""

import json
from uuid import uuid4, uuid5

from eventsourcing.persistence import StoredEvent

from plera.envelope import StoredEnvelopes, envelope_of, event_id_of

from .world import NAMES, make_world, the_usual_story


def test_every_event_reads_from_the_store_as_its_domain_event_gives_it(services, clock):
    world = make_world(services, clock, NAMES)
    the_usual_story(world)
    app = services.events.app
    read = StoredEnvelopes(app.mapper)

    for stored in app.recorder.select_notifications(world.log_start + 1, 100_000):
        expected = envelope_of(app.mapper.to_domain_event(stored))
        assert read(stored) == expected
        assert json.dumps(read(stored).body()) == json.dumps(expected.body())  # the same keys, in the same order


def test_an_event_stored_under_an_older_class_version_is_upcast(services, clock):
    world = make_world(services, clock, ["Ann"])
    app = services.events.app
    stored = app.recorder.select_notifications(world.log_start + 1, 1000)
    enrolled = next(n for n in stored if n.topic.endswith("LeadEnrolled"))
    state = json.loads(enrolled.state)
    del state["senders"], state["class_version"]  # as version 1 stored it
    old = StoredEvent(enrolled.originator_id, enrolled.originator_version, enrolled.topic, json.dumps(state).encode())

    envelope = StoredEnvelopes(app.mapper)(old)

    assert envelope.payload["senders"] == {}
    assert envelope == envelope_of(app.mapper.to_domain_event(old))


def test_an_event_id_is_the_uuid5_of_its_aggregate_and_version():
    for _ in range(200):
        aggregate_id = uuid4()
        for version in (1, 2, 9, 10, 4096):
            assert event_id_of(aggregate_id, version) == uuid5(aggregate_id, f"event:{version}")
