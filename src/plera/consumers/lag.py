"""How far the read-model pipeline stands behind the event store: shared by /readyz and /metrics.

Everything is computed when asked, from what the pipeline already stores, so no process keeps a
counter of its own and every API process answers alike:

- the event store's head is the largest notification id;
- the relay's position is its row in `plera_relay` (Kafka mode; no relay runs in embedded mode);
- a consumer's progress is its rows in `read.positions`, written in the same transaction as the
  read models: the notification id for "embedded" (source "log"), and the next offset of each
  partition for "kafka" (sources "topic:partition").

Lag in events: embedded, head minus the position of "embedded"; Kafka, the relay's lag (head minus
its position) and the consumer's (the sum over partitions of end offset minus stored position).
The end offsets come from the broker through one client outside any group, asked at most every
`ttl` seconds, so that frequent probes do not hammer the broker.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.net.compat import KafkaNetClient
from psycopg import Connection

from plera.consumers.inprocess import CONSUMER as EMBEDDED
from plera.consumers.kafka_consumer import POSITIONS as KAFKA
from plera.consumers.kafka_consumer import source_of
from plera.consumers.relay import TOPICS

# Above this many events behind, /readyz still answers 200 but says "degraded" with a warning:
# the read models are late, yet serving them beats answering nothing.
LAG_WARNING = 10_000


@dataclass(frozen=True)
class BrokerState:
    """What the broker answered: whether it did, and the end offset of each partition of our topics."""

    reachable: bool
    end_offsets: dict[str, int]  # "topic:partition" → offset of the next message
    error: str | None = None


class BrokerProbe:
    """One Kafka client outside any consumer group, kept for the process and asked at most every `ttl` s.

    Each question makes a fresh metadata round trip (a live connection, not a cached flag) and
    reads the end offsets, each bounded by `timeout` seconds. A client that could not connect
    at all is closed with its IO thread and made again on the next question.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        timeout: float = 1.5,
        ttl: float = 2.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bootstrap = bootstrap
        self._timeout_ms = int(timeout * 1000)
        self._ttl = ttl
        self._monotonic = monotonic
        self._lock = threading.Lock()  # a kafka-python client is not for concurrent use
        self._client: KafkaConsumer | None = None
        self._cached: tuple[float, BrokerState] | None = None

    def state(self) -> BrokerState:
        with self._lock:
            now = self._monotonic()
            if self._cached is not None and now - self._cached[0] < self._ttl:
                return self._cached[1]
            state = self._ask()
            self._cached = (self._monotonic(), state)
            return state

    def _ask(self) -> BrokerState:
        try:
            client = self._current_client()
            client.bootstrap(timeout_ms=self._timeout_ms, refresh=True)
            partitions = [TopicPartition(t, p) for t in TOPICS for p in sorted(client.partitions_for_topic(t))]
            ends = client.end_offsets(partitions, timeout_ms=self._timeout_ms) if partitions else {}
        except (KafkaError, KeyError) as e:  # KeyError: a partition vanished between metadata and offsets
            return BrokerState(reachable=False, end_offsets={}, error=type(e).__name__)
        return BrokerState(reachable=True, end_offsets={source_of(tp): int(end) for tp, end in ends.items()})

    def _current_client(self) -> KafkaConsumer:
        if self._client is None:
            self._client = _probe_client(self._bootstrap, self._timeout_ms)
        return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _probe_client(bootstrap: str, timeout_ms: int) -> KafkaConsumer:
    """A consumer outside any group; when it cannot connect, its network thread is stopped too.

    (kafka-python starts the client's IO thread before its first bootstrap, and leaves it running
    when that bootstrap times out in the constructor.)
    """
    made: list[KafkaNetClient] = []

    def network_client(**configs: Any) -> KafkaNetClient:
        made.append(KafkaNetClient(**configs))
        return made[-1]

    try:
        return KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=None,
            client_id="plera-lag-probe",
            enable_auto_commit=False,
            bootstrap_timeout_ms=timeout_ms,
            request_timeout_ms=timeout_ms,
            fetch_max_wait_ms=min(500, timeout_ms // 2),
            kafka_client=network_client,
        )
    except KafkaError:
        for client in made:
            client.close()
        raise


@dataclass(frozen=True)
class Progress:
    """The pipeline's standing, in events. None where it cannot be known (the broker did not answer)."""

    mode: Literal["embedded", "kafka"]
    head: int  # the event store's largest notification id
    relay_position: int  # stays 0 in embedded mode, where no relay runs
    relay_lag: int | None  # Kafka mode only
    consumer: str  # the consumer whose lag this is: "embedded" or "kafka"
    consumer_lag: int | None
    processed: dict[str, int]  # each consumer of read.positions → events applied (see events_processed)


class PipelineMonitor:
    """The pipeline's progress as one process sees it: Kafka mode when a bootstrap is given."""

    def __init__(self, kafka_bootstrap: str | None) -> None:
        self.broker = BrokerProbe(kafka_bootstrap) if kafka_bootstrap else None

    def broker_state(self) -> BrokerState | None:
        """The broker's (cached) answer; None in embedded mode."""
        return self.broker.state() if self.broker is not None else None

    def close(self) -> None:
        if self.broker is not None:
            self.broker.close()


def measure(conn: Connection, broker: BrokerState | None) -> Progress:
    """The pipeline's progress: embedded mode without a broker, Kafka mode with the broker's answer."""
    head = event_store_head(conn)
    relay = relay_position(conn)
    processed = events_processed(conn)
    if broker is None:
        position = stored_positions(conn, EMBEDDED).get("log", 0)
        return Progress("embedded", head, relay, None, EMBEDDED, max(head - position, 0), processed)
    consumer_lag = kafka_consumer_lag(stored_positions(conn, KAFKA), broker.end_offsets) if broker.reachable else None
    return Progress("kafka", head, relay, max(head - relay, 0), KAFKA, consumer_lag, processed)


def event_store_head(conn: Connection) -> int:
    row = conn.execute("SELECT max(notification_id) FROM plera_events").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def relay_position(conn: Connection) -> int:
    row = conn.execute("SELECT position FROM plera_relay WHERE id = 1").fetchone()
    return int(row[0]) if row else 0


def stored_positions(conn: Connection, consumer: str) -> dict[str, int]:
    """A consumer's positions as stored with the read models; none before any consumer made the table."""
    if not _positions_table_exists(conn):
        return {}
    rows = conn.execute("SELECT source, position FROM read.positions WHERE consumer = %s", (consumer,)).fetchall()
    return {source: int(position) for source, position in rows}


def events_processed(conn: Connection) -> dict[str, int]:
    """Events each consumer has applied, from its stored positions.

    Embedded: the notification id reached (an id lost to a rolled-back append counts too, so
    this may run a little ahead). Kafka: the sum of the next offsets over partitions (a consumer
    that started at the end of a topic counts what it skipped). A rebuild starts a consumer over,
    which Prometheus reads as a counter reset.
    """
    if not _positions_table_exists(conn):
        return {}
    rows = conn.execute("SELECT consumer, sum(position) FROM read.positions GROUP BY consumer ORDER BY consumer")
    return {consumer: int(total) for consumer, total in rows.fetchall()}


def kafka_consumer_lag(stored: dict[str, int], end_offsets: dict[str, int]) -> int:
    """The sum over partitions of end offset minus stored position (a partition never read counts from 0)."""
    return sum(max(end - stored.get(source, 0), 0) for source, end in end_offsets.items())


def _positions_table_exists(conn: Connection) -> bool:
    row = conn.execute("SELECT to_regclass('read.positions') IS NOT NULL").fetchone()
    return bool(row and row[0])
