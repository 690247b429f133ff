"""The read-model pipeline of one process: in process (embedded mode) or through Kafka.

`plera up` and `plera demo` start it; `catch_up()` returns once the read models reflect every
event stored so far, whichever way they are fed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Protocol

from plera.consumers.inprocess import InProcessFeed
from plera.projections.registry import Projection
from plera.runtime import Services


class Pipeline(Protocol):
    def start(self) -> None: ...

    def catch_up(self, timeout: float = 60.0) -> None: ...

    def stop(self) -> None: ...


class EmbeddedPipeline:
    def __init__(self, sv: Services, projections: Sequence[Projection]) -> None:
        self.feed = InProcessFeed(sv, projections)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread, self._stop = self.feed.start()

    def catch_up(self, timeout: float = 60.0) -> None:
        self.feed.catch_up()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class KafkaPipeline:
    """Relay and consumer in threads of this process: the whole path through the broker."""

    def __init__(self, sv: Services, projections: Sequence[Projection], bootstrap: str) -> None:
        from plera.consumers.kafka_consumer import KafkaFeed
        from plera.consumers.relay import Relay, ensure_topics

        ensure_topics(bootstrap)
        self._sv = sv
        self.relay = Relay(sv, bootstrap)
        self.feed = KafkaFeed(sv, projections, bootstrap, group=sv.settings.kafka_group)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for name, target in (("plera-relay", self.relay.run), ("plera-consumer", self.feed.run)):
            thread = threading.Thread(target=target, args=(self._stop,), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def catch_up(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last = self._sv.events.app.recorder.max_notification_id() or 0
        while self.relay.position() < last or not self.feed.caught_up():
            if time.monotonic() > deadline:
                raise TimeoutError("the read models did not catch up with the event store in time")
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.feed.close()
        self.relay.close()


def open_pipeline(sv: Services, projections: Sequence[Projection]) -> Pipeline:
    bootstrap = sv.settings.kafka_bootstrap
    return KafkaPipeline(sv, projections, bootstrap) if bootstrap else EmbeddedPipeline(sv, projections)
