"""What a subscriber reads is the contract, byte for byte, however the relay packs its batches."""

from __future__ import annotations

import json
from uuid import uuid5

from kafka import KafkaConsumer

from plera.commands.runs import CreateRun, create_run
from plera.commands.workspaces import CreateWorkspace, create_workspace

from .conftest import end_offsets, relay_all


def test_a_relayed_event_reaches_a_subscriber_byte_for_byte_as_the_contract_gives_it(services, relay, bootstrap):
    start = end_offsets(bootstrap)
    workspace_id = create_workspace(services, CreateWorkspace(name="bytes"), "test").workspace.id
    run = create_run(services, workspace_id, CreateRun(name="Q3 outbound"), "test")
    relay_all(relay, services)
    stop = end_offsets(bootstrap)
    occurred_at = services.events.stored_events([run.id])[0].timestamp

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    partitions = [tp for tp in stop if tp.topic == "plera.run.v1" and stop[tp] > start.get(tp, 0)]
    consumer.assign(partitions)
    for tp in partitions:
        consumer.seek(tp, start.get(tp, 0))
    found = []
    try:
        while sum(consumer.position(tp) for tp in partitions) < sum(stop[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=1000).values():
                found.extend(r for r in records if r.key == str(run.id).encode())
    finally:
        consumer.close()

    event_id = str(uuid5(run.id, "event:1"))
    body = {
        "event_id": event_id,
        "aggregate_id": str(run.id),
        "aggregate_version": 1,
        "workspace_id": str(workspace_id),
        "occurred_at": occurred_at.isoformat(),
        "actor": "test",
        "type": "RunCreated",
        "payload": {"name": "Q3 outbound", "play_id": None},
    }
    assert [(r.value, list(r.headers)) for r in found] == [
        (
            json.dumps(body).encode(),
            [
                ("ce_id", event_id.encode()),
                ("ce_source", f"/plera/workspaces/{workspace_id}".encode()),
                ("ce_type", b"plera.run.RunCreated.v1"),
                ("ce_subject", str(run.id).encode()),
                ("ce_time", occurred_at.isoformat().replace("+00:00", "Z").encode()),
                ("content-type", b"application/json"),
                ("ce_specversion", b"1.0"),
            ],
        )
    ]
