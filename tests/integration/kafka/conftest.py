"""Fixtures for the Kafka path: the relay, consumers that start from now, and waiting helpers.

The broker may be shared with other test sessions, so a consumer here starts at the topics' current
end offsets (stored as its positions before anything is relayed) and sees only what this session
relays from now on.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator

import psutil
import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from plera.consumers.kafka_consumer import KafkaFeed, source_of
from plera.consumers.relay import TOPICS, Relay, ensure_topics
from plera.projections.all import ALL
from plera.projections.runner import ensure_schema
from tests.broker import kafka_bootstrap  # noqa: F401


@pytest.fixture(scope="session")
def bootstrap(kafka_bootstrap: str) -> str:  # noqa: F811
    ensure_topics(kafka_bootstrap)
    return kafka_bootstrap


def end_offsets(bootstrap: str) -> dict[TopicPartition, int]:
    probe = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        partitions = [TopicPartition(t, p) for t in TOPICS for p in (probe.partitions_for_topic(t) or ())]
        return dict(probe.end_offsets(partitions))
    finally:
        probe.close()


def positions_name(group: str) -> str:
    """Each test's consumers keep positions of their own; `plera consume` keeps the shared "kafka"."""
    return "kafka" if group == "kafka" else f"kafka:{group}"


def start_group_from_now(services, bootstrap: str, group: str) -> None:
    """Stores the group's positions at the current end of every partition."""
    with services.db.pool.connection() as conn:
        ensure_schema(conn, ALL)
        for tp, end in end_offsets(bootstrap).items():
            conn.execute(
                "INSERT INTO read.positions (consumer, source, position) VALUES (%s, %s, %s)"
                " ON CONFLICT (consumer, source) DO UPDATE SET position = EXCLUDED.position",
                (positions_name(group), source_of(tp), end),
            )


@pytest.fixture
def group(services, bootstrap) -> str:
    name = f"plera-test-{uuid.uuid4().hex[:8]}"
    start_group_from_now(services, bootstrap, name)
    return name


@pytest.fixture
def relay(services, bootstrap) -> Iterator[Relay]:
    relay = Relay(services, bootstrap, flush_timeout=15)
    yield relay
    relay.close()


@pytest.fixture
def feeds(services, bootstrap, group) -> Iterator[Callable[[], KafkaFeed]]:
    made: list[KafkaFeed] = []

    def make() -> KafkaFeed:
        feed = KafkaFeed(
            services, ALL, bootstrap, group=group, positions=positions_name(group), client_id=f"{group}-{len(made)}"
        )
        made.append(feed)
        return feed

    yield make
    for feed in made:
        feed.close()


def relay_all(relay: Relay, services, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    last = services.events.app.recorder.max_notification_id() or 0
    while relay.position() < last:
        with contextlib.suppress(KafkaError):  # the relay starts over with a fresh producer, as its run loop does
            relay.publish_pending()
        assert time.monotonic() < deadline, "the relay did not catch up"


def consume_until_caught_up(feed: KafkaFeed, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not feed.caught_up():
        feed.poll_once(timeout_ms=100)
        assert time.monotonic() < deadline, "the consumer did not catch up"


def local_broker_process(bootstrap: str) -> psutil.Process | None:
    """The process listening on the bootstrap port, when it runs on this machine."""
    host, port = bootstrap.rsplit(":", 1)
    if host not in ("127.0.0.1", "localhost", "::1"):
        return None
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == int(port) and conn.pid:
            return psutil.Process(conn.pid)
    return None
