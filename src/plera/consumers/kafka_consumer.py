"""The Kafka consumer group that feeds the projections.

Offsets live in the read schema's `positions` table, written in the same transaction as the rows
they produced; Kafka's committed offsets follow after. On assignment we seek to our own positions,
so a crash, a redelivery or a rebalance neither loses an event nor counts one twice.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence

from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError

from plera.consumers.relay import TOPICS
from plera.envelope import Envelope
from plera.projections.dead_letters import feed_failed, feed_recovered
from plera.projections.registry import Projection
from plera.projections.runner import apply_batch, ensure_schema, read_positions
from plera.runtime import Services

log = logging.getLogger(__name__)

GROUP = "plera-projections"
POSITIONS = "kafka"


def source_of(tp: TopicPartition) -> str:
    return f"{tp.topic}:{tp.partition}"


def envelope_of_record(record: object) -> Envelope:
    headers = dict(getattr(record, "headers", []) or [])
    return Envelope.from_message(headers["ce_type"].decode(), record.value)  # type: ignore[attr-defined]


def group_caught_up(sv: Services, probe: KafkaConsumer, consumer_name: str, schema: str = "read") -> bool:
    """Whether a group's positions, as stored with the read models, reach the end of every partition.

    `probe` is a consumer outside any group, used only to read end offsets.
    """
    partitions = [TopicPartition(topic, p) for topic in TOPICS for p in (probe.partitions_for_topic(topic) or ())]
    ends = probe.end_offsets(partitions)
    with sv.db.pool.connection() as conn:
        stored = read_positions(conn, consumer_name, schema)
    return all(stored.get(source_of(tp), 0) >= end for tp, end in ends.items())


class _SeekToStored(ConsumerRebalanceListener):
    def __init__(self, feed: KafkaFeed) -> None:
        self._feed = feed

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        pass  # every applied batch is already committed in the database

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self._feed.seek_to_stored(assigned)


class KafkaFeed:
    def __init__(
        self,
        sv: Services,
        projections: Sequence[Projection],
        bootstrap: str,
        *,
        group: str = GROUP,
        positions: str = POSITIONS,
        schema: str = "read",
        client_id: str = "plera-consumer",
    ) -> None:
        self._sv = sv
        self._projections = projections
        self._schema = schema
        # The positions belong to the read models, not to the group: a consumer under another
        # group id (say, after a member died and the broker still holds its session) resumes
        # exactly where the read models stand.
        self._consumer_name = positions
        # Set when a batch failed and the client could not be sent back to the stored positions then
        # (the database was away): the next poll does it first, else that batch would be skipped.
        self._rewind = False
        with sv.db.pool.connection() as conn:
            ensure_schema(conn, projections, schema)
        # Tuned for latency: the broker answers as soon as one record is there, or after 10 ms.
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            client_id=client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_min_bytes=1,
            fetch_max_wait_ms=10,
            max_poll_records=1000,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
        )
        self._consumer.subscribe(TOPICS, listener=_SeekToStored(self))
        # A second client, outside the group, only to read end offsets from other threads.
        self._probe = KafkaConsumer(bootstrap_servers=bootstrap, client_id=client_id + "-probe", group_id=None)

    def seek_to_stored(self, partitions: Sequence[TopicPartition]) -> None:
        with self._sv.db.pool.connection() as conn:
            stored = read_positions(conn, self._consumer_name, self._schema)
        for tp in partitions:
            position = stored.get(source_of(tp))
            if position is None:
                self._consumer.seek_to_beginning(tp)
            else:
                self._consumer.seek(tp, position)

    def poll_once(self, timeout_ms: int = 100) -> int:
        """Applies one poll's records in one transaction. Returns how many records were applied."""
        if self._rewind:  # raises again while the database is away; the next poll tries again
            self.seek_to_stored(list(self._consumer.assignment()))
            self._rewind = False
        batches = self._consumer.poll(timeout_ms=timeout_ms)
        if not batches:
            return 0
        envelopes: list[Envelope] = []
        positions: dict[str, int] = {}
        for tp, records in batches.items():
            for record in records:
                envelopes.append(envelope_of_record(record))
            positions[source_of(tp)] = records[-1].offset + 1
        try:
            with self._sv.db.pool.connection() as conn:
                applied = apply_batch(
                    conn, self._projections, envelopes, positions, consumer=self._consumer_name, schema=self._schema
                )
        except Exception:
            # Nothing of the batch was applied (one transaction), but the client has moved past it:
            # go back to the stored positions, so that the batch comes again. Reading them needs the
            # database, which may be what failed: then the next poll goes back first.
            self._rewind = True
            with contextlib.suppress(Exception):
                self.seek_to_stored(list(self._consumer.assignment()))
                self._rewind = False
            raise
        try:
            self._consumer.commit({tp: OffsetAndMetadata(positions[source_of(tp)], "", -1) for tp in batches})
        except KafkaError as e:
            # Our positions in the database are the truth; Kafka's copy catches up next time.
            log.info("offset commit to Kafka failed (%s); the database holds the position", e)
        return applied

    def caught_up(self) -> bool:
        """True when the group's stored positions reach the end of every partition of our topics."""
        return group_caught_up(self._sv, self._probe, self._consumer_name, self._schema)

    def run(self, stop: threading.Event) -> None:
        failing = True  # until a pass succeeds: a failure an earlier process noted is cleared then
        while not stop.is_set():
            try:
                self.poll_once(timeout_ms=200)
                if failing:
                    with self._sv.db.pool.connection() as conn:
                        feed_recovered(conn, self._consumer_name, self._schema)
                    failing = False
            except KafkaError as e:
                log.warning("consumer: %s; retrying", e)  # the broker's state shows in /readyz already
                stop.wait(0.5)
            except Exception as e:
                # A database outage (or a deadlock with another member during a rebalance), or a
                # record that cannot be read: the batch was rolled back and will come again. A single
                # event's failure is a dead letter instead (projections/runner.py).
                log.warning("consumer: %s; retrying", e)
                with contextlib.suppress(Exception), self._sv.db.pool.connection(timeout=5) as conn:
                    feed_failed(conn, self._consumer_name, e, self._schema)
                failing = True
                stop.wait(0.5)

    def close(self) -> None:
        self._consumer.close()
        self._probe.close()
