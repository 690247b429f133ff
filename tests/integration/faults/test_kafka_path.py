"""Faults on the Kafka path, with `plera relay` publishing and `plera consume` feeding the read models,
each a real process as deployed: the broker killed with SIGKILL and started again on its data, and
PostgreSQL crashed and started again under both.

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

from .private_postgres import PrivatePostgres
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
    def kill_and_restart() -> None:
        broker.kill()
        time.sleep(2)
        broker.start()

    run_through_faults(empty_database_url, broker, tmp_path, kill_and_restart)


def test_postgresql_crashing_under_the_relay_and_the_consumer_loses_and_doubles_nothing(
    broker: PrivateBroker, tmp_path: Path
):
    postgres = PrivatePostgres()
    try:
        run_through_faults(postgres.url, broker, tmp_path, lambda: postgres.restart(down_for=2))
    finally:
        postgres.close()


def run_through_faults(database_url: str, broker: PrivateBroker, tmp_path: Path, fault) -> None:
    """Loads leads while the relay and the consumer run; `fault` strikes twice: mid-relay (during the
    load) and mid-consumption (after it, while the consumer catches up)."""
    sv = Services.open(Settings(database_url=database_url, data_dir=tmp_path / "data", secret_key="test-key"))
    env = service_env(database_url, tmp_path / "proc-data", PLERA_KAFKA_BOOTSTRAP=broker.bootstrap)
    env["PLERA_CLOCK"] = "system"
    ensure_topics(broker.bootstrap)
    logs = [(tmp_path / f"{name}.log").open("wb") for name in ("relay", "consume")]
    relay = plera("relay", env=env, log=logs[0])
    consume = plera("consume", env=env, log=logs[1])
    try:
        ids = launched_sequence(sv, leads=BATCH, name="kafka-faults")
        loaded = threading.Event()

        def load() -> None:
            for n in range(1, BATCHES):
                for _ in range(30):  # the database may be down for a moment: the load waits for it
                    try:
                        add_leads(sv, ids, n * BATCH, BATCH, name="kafka-faults")
                        break
                    except Exception:
                        time.sleep(0.5)
                time.sleep(0.2)
            loaded.set()

        loader = threading.Thread(target=load)
        loader.start()
        time.sleep(1.5)
        fault()  # mid-relay: batches in flight, acknowledgements lost
        loader.join(180)
        assert loaded.is_set()
        time.sleep(1)
        fault()  # mid-consumption: the consumer still catching up on the load
        wait_for(lambda: counts_now(sv, ids) == expected(BATCHES * BATCH), 240, "the read models to catch up")
        assert relay.poll() is None and consume.poll() is None, "a process died with the fault"
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


def counts_now(sv: Services, ids) -> dict[str, int] | None:
    try:
        return read_counts(sv, ids)
    except Exception:  # the database restarting
        return None
