"""The Kafka broker killed with SIGKILL, and started again on its data, while `plera relay` publishes
and `plera consume` feeds the read models, each a real process as deployed.

What must hold once both have caught up: every event reached the read models once (the counts are
exact) and they equal a rebuild from the event store (`plera projections verify`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from plera.consumers.relay import ensure_topics
from plera.runtime import Services
from plera.settings import Settings
from tests.broker import load_kafka_broker
from tests.integration.kafka.counts import expected, read_counts
from tests.integration.kafka.world import add_leads, launched_sequence

from .service import plera, service_env, wait_for

BATCHES, BATCH = 30, 20


class PrivateBroker:
    """A noida-db broker of the test's own, on a fixed port and data folder, so it can come back."""

    def __init__(self, folder: Path) -> None:
        self._kafka = load_kafka_broker()
        self.folder = folder
        self.port = self._kafka.free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc, bootstrap = self._kafka.start_broker(self.folder, port=self.port)
        assert bootstrap == self.bootstrap

    def kill(self) -> None:
        assert self._proc is not None
        os.killpg(self._proc.pid, signal.SIGKILL)  # the broker leads its own process group
        self._proc.wait(10)

    def stop(self) -> None:
        if self._proc is not None:
            self._kafka.stop_broker(self._proc)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[PrivateBroker]:
    broker = PrivateBroker(tmp_path / "kafka")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def test_a_broker_killed_during_relay_and_consumption_loses_and_doubles_nothing(
    empty_database_url: str, broker: PrivateBroker, tmp_path: Path
):
    sv = Services.open(Settings(database_url=empty_database_url, data_dir=tmp_path / "data", secret_key="test-key"))
    env = service_env(empty_database_url, tmp_path / "proc-data", PLERA_KAFKA_BOOTSTRAP=broker.bootstrap)
    env["PLERA_CLOCK"] = "system"
    ensure_topics(broker.bootstrap)
    logs = [(tmp_path / f"{name}.log").open("wb") for name in ("relay", "consume")]
    relay = plera("relay", env=env, log=logs[0])
    consume = plera("consume", env=env, log=logs[1])
    try:
        ids = launched_sequence(sv, leads=BATCH, name="broker-kill")
        loaded = threading.Event()

        def load() -> None:
            for n in range(1, BATCHES):
                add_leads(sv, ids, n * BATCH, BATCH, name="broker-kill")
                time.sleep(0.2)
            loaded.set()

        loader = threading.Thread(target=load)
        loader.start()
        time.sleep(1.5)
        broker.kill()  # mid-relay: batches in flight, acknowledgements lost
        time.sleep(2)
        broker.start()
        loader.join(120)
        assert loaded.is_set()
        time.sleep(1)
        broker.kill()  # mid-consumption: the consumer still catching up on the load
        time.sleep(2)
        broker.start()
        wait_for(lambda: read_counts(sv, ids) == expected(BATCHES * BATCH), 240, "the read models to catch up")
        assert relay.poll() is None and consume.poll() is None, "a process died with the broker"
        checked = subprocess.run(
            [sys.executable, "-m", "plera.cli", "projections", "verify"],
            env={k: v for k, v in env.items() if k != "PLERA_KAFKA_BOOTSTRAP"},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
    finally:
        for proc in (relay, consume):
            proc.terminate()
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            log.close()
        sv.close()
        for name in ("relay", "consume"):
            sys.stderr.write(f"--- {name}\n" + (tmp_path / f"{name}.log").read_text(errors="replace")[-3000:])
