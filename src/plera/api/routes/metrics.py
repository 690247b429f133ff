"""Prometheus metrics, at the root and without a key: the pipeline's progress, computed on each scrape.

A custom collector reads the event store's head, the relay's position and the consumers'
positions (consumers/lag.py) when scraped, so the numbers are the database's, the same from
every API process, and nothing is counted in memory.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector, CollectorRegistry
from starlette.responses import Response

from plera.api.deps import MonitorDep, ServicesDep
from plera.api.problems import responses
from plera.consumers.lag import PipelineMonitor, measure
from plera.projections.dead_letters import faults
from plera.runtime import Services

router = APIRouter(tags=["health"])

_TIMEOUT = 2.0  # seconds to wait for a pooled connection

_DESCRIPTION = """\
Prometheus text format (OpenMetrics when the scraper asks for it):

- `plera_event_store_head`: the event store's last notification id;
- `plera_relay_position`: the last notification id the relay published to Kafka (0 in embedded mode, where no relay runs);
- `plera_relay_lag_events`: events stored but not yet published (Kafka mode only);
- `plera_consumer_lag_events{consumer}`: events the read models lack: `embedded`, the head minus its
  position; `kafka`, the sum over partitions of end offset minus stored position (absent while the broker does not answer);
- `plera_broker_up`: 1 when the broker answered (Kafka mode only; cached 2 s);
- `plera_projection_events_processed_total{consumer}`: events applied to the read models, from the
  positions stored with them (a rebuild resets it);
- `plera_projection_dead_letters{consumer,projection}`: events a read model could not take, kept
  aside until `plera projections retry` applies them (a series per pair that has any);
- `plera_feed_failing{consumer}`: 1 while a feed cannot apply its batches at all, else 0.
"""


class PipelineCollector(Collector):
    def __init__(self, sv: Services, monitor: PipelineMonitor) -> None:
        self._sv = sv
        self._monitor = monitor

    def collect(self) -> Iterator[Metric]:
        broker = self._monitor.broker_state()  # before taking a connection: it may wait on the broker
        with self._sv.db.pool.connection(timeout=_TIMEOUT) as conn:
            progress = measure(conn, broker)
            found = faults(conn)
        yield GaugeMetricFamily("plera_event_store_head", "The event store's last notification id.", progress.head)
        yield GaugeMetricFamily(
            "plera_relay_position", "The last notification id published to Kafka.", progress.relay_position
        )
        if progress.relay_lag is not None:
            yield GaugeMetricFamily(
                "plera_relay_lag_events", "Events stored but not yet published to Kafka.", progress.relay_lag
            )
        consumer_lag = GaugeMetricFamily(
            "plera_consumer_lag_events", "Events the read models lack, by consumer.", labels=["consumer"]
        )
        if progress.consumer_lag is not None:
            consumer_lag.add_metric([progress.consumer], progress.consumer_lag)
        yield consumer_lag
        if broker is not None:
            yield GaugeMetricFamily("plera_broker_up", "1 when the Kafka broker answered.", int(broker.reachable))
        processed = CounterMetricFamily(
            "plera_projection_events_processed",
            "Events applied to the read models, by consumer (from their stored positions).",
            labels=["consumer"],
        )
        for consumer, count in progress.processed.items():
            processed.add_metric([consumer], count)
        yield processed
        letters = GaugeMetricFamily(
            "plera_projection_dead_letters",
            "Events a read model could not take and keeps aside, by consumer and projection.",
            labels=["consumer", "projection"],
        )
        for (consumer, projection), count in sorted(found.dead_letters.items()):
            letters.add_metric([consumer, projection], count)
        yield letters
        failing = GaugeMetricFamily(
            "plera_feed_failing", "1 while a feed cannot apply its batches, by consumer.", labels=["consumer"]
        )
        for consumer in sorted({*progress.processed, *found.failing_feeds}):
            failing.add_metric([consumer], int(consumer in found.failing_feeds))
        yield failing


@router.get(
    "/metrics",
    summary="Prometheus metrics: relay position, consumer lag, events processed, dead letters",
    description=_DESCRIPTION,
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **responses(503)},
)
def metrics(request: Request, sv: ServicesDep, monitor: MonitorDep) -> Response:
    registry = CollectorRegistry()
    registry.register(PipelineCollector(sv, monitor))
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(registry), media_type=content_type)
