"""A real Kafka round trip: idempotent producer (acks=all), keys, headers, a consumer group."""

from __future__ import annotations

import time
import uuid

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.consumer.fetcher import ConsumerRecord

from tests.broker import kafka_bootstrap  # noqa: F401  (the fixture)


def test_keyed_messages_with_headers_round_trip_in_order(kafka_bootstrap: str) -> None:  # noqa: F811
    run = uuid.uuid4().hex[:12]
    topic = f"plera.test_roundtrip_{run}.v1"
    group = f"plera-test-{run}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id=f"plera-test-admin-{run}")
    # One partition, created explicitly: the order is defined, whatever the broker's auto-create settings.
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    try:
        sent = [
            (
                f"lead-{i}".encode(),
                f'{{"event_id": "e{i}", "aggregate_version": {i}}}'.encode(),
                [
                    ("ce_specversion", b"1.0"),
                    ("ce_id", f"e{i}-{run}".encode()),
                    ("ce_type", b"plera.lead.LeadImported.v1"),
                    ("content-type", b"application/json"),
                ],
            )
            for i in range(1, 4)
        ]
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all", linger_ms=0)
        try:
            offsets = [producer.send(topic, key=k, value=v, headers=h).get(timeout=30).offset for k, v, h in sent]
            producer.flush(timeout=30)
        finally:
            producer.close(timeout=10)
        assert offsets == sorted(offsets) and len(set(offsets)) == 3

        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=group,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        received: list[ConsumerRecord] = []
        try:
            deadline = time.monotonic() + 60
            while len(received) < len(sent) and time.monotonic() < deadline:
                for records in consumer.poll(timeout_ms=500).values():
                    received.extend(records)
            consumer.commit()
            committed = consumer.committed(TopicPartition(topic, 0))
        finally:
            consumer.close()

        assert [(r.key, r.value, list(r.headers)) for r in received] == [(k, v, h) for k, v, h in sent]
        assert [r.offset for r in received] == offsets
        assert committed == offsets[-1] + 1
    finally:
        admin.delete_topics([topic], raise_errors=False)
        admin.close()
