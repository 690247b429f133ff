"""The event pipeline's figures: relay throughput, and append-to-visible lag at a sustained rate.

Run: python bench/pipeline.py [--bootstrap HOST:PORT] [--rate 200] [--seconds 10]
     (PLERA_KAFKA_BOOTSTRAP or --bootstrap names the broker; without one, infra/kafka_broker.py
      starts the test broker for the run. PLERA_DATABASE_URL, else the local PostgreSQL.)

1. Relay: 10,000 leads are enrolled through the commands (about 20,000 events); the relay then
   publishes the whole log from position 0, and we print events/s (target >= 5,000).
2. Lag: a writer creates runs (one event each) at --rate per second for --seconds; an observer
   polls the read model the API serves (read.catalog, by id, as GET /v1/runs/{...} lists do) every
   2 ms and records when each run became visible. We print p50 and p99 of (visible - committed),
   through Kafka (`plera relay` and `plera consume` as processes of their own) and embedded
   (in-process feed woken by LISTEN/NOTIFY). Targets: p50 <= 100 ms and p99 <= 500 ms.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from uuid import UUID

from common import percentile, scratch_services
from kafka import KafkaConsumer

from plera.commands.lead_import import parse_json_rows
from plera.commands.runs import CreateRun, create_run
from plera.commands.sequences import CreateSequence, create_sequence, launch_sequence
from plera.commands.source_groups import CreateSourceGroup, create_source_group, import_leads, mark_enriched
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.consumers.kafka_consumer import POSITIONS, group_caught_up
from plera.consumers.pipeline import EmbeddedPipeline, Pipeline
from plera.consumers.relay import Relay, ensure_topics
from plera.projections.all import ALL
from plera.runtime import Services


def broker(bootstrap: str | None):  # type: ignore[no-untyped-def]
    if bootstrap:
        return None, bootstrap
    path = Path(__file__).resolve().parents[1] / "infra" / "kafka_broker.py"
    spec = importlib.util.spec_from_file_location("kafka_broker", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["kafka_broker"] = module
    spec.loader.exec_module(module)
    proc, address = module.start_broker(Path(tempfile.mkdtemp()))
    return (module, proc), address


def load(sv: Services, leads: int) -> None:
    ws = create_workspace(sv, CreateWorkspace(name="bench"), "bench").workspace
    run = create_run(sv, ws.id, CreateRun(name="bench"), "bench")
    group = create_source_group(sv, ws.id, run.id, CreateSourceGroup(name="bench"), "bench")
    rows = [{"email": f"lead{i}@bench.example", "first_name": f"Lead{i}"} for i in range(leads)]
    import_leads(sv, ws.id, group.id, parse_json_rows(rows), "bench")
    mark_enriched(sv, ws.id, group.id, "bench")
    steps = [{"channel": "email", "delay_days": d, "condition": "no_reply"} for d in (0, 3)]
    cmd = CreateSequence.model_validate({"run_id": run.id, "name": "b", "source_group_ids": [group.id], "steps": steps})
    launch_sequence(sv, ws.id, create_sequence(sv, ws.id, cmd, "bench").id, "bench")


def relay_throughput(sv: Services, bootstrap: str) -> tuple[int, float]:
    relay = Relay(sv, bootstrap)
    last = sv.events.app.recorder.max_notification_id() or 0
    started = time.perf_counter()
    published = 0
    while relay.position() < last:
        published += relay.publish_pending()
    seconds = time.perf_counter() - started
    relay.close()
    return published, seconds


def lag(sv: Services, pipeline: Pipeline | ProcessPipeline, rate: int, seconds: float) -> list[float]:
    ws = create_workspace(sv, CreateWorkspace(name="lag"), "bench").workspace
    pipeline.catch_up(timeout=300)
    committed: dict[UUID, float] = {}
    visible: dict[UUID, float] = {}
    done = threading.Event()

    def observe() -> None:
        with sv.db.pool.connection() as conn:
            conn.autocommit = True
            while not (done.is_set() and len(visible) == len(committed)):
                waiting = [i for i in list(committed) if i not in visible]
                if waiting:
                    rows = conn.execute("SELECT id FROM read.catalog WHERE id = ANY(%s)", (waiting,)).fetchall()
                    now = time.perf_counter()
                    for (row_id,) in rows:
                        visible[row_id] = now
                time.sleep(0.002)

    observer = threading.Thread(target=observe, daemon=True)
    observer.start()
    interval = 1.0 / rate
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        target = start + i * interval
        pause = target - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        run = create_run(sv, ws.id, CreateRun(name=f"r{i}"), "bench")
        committed[run.id] = time.perf_counter()
    achieved = len(committed) / (time.perf_counter() - start)
    done.set()
    observer.join(timeout=120)
    print(f"  sustained append rate: {achieved:,.0f} events/s over {len(committed)} events")
    return [(visible[i] - committed[i]) * 1000 for i in committed if i in visible]


class ProcessPipeline:
    """`plera relay` and `plera consume` as separate processes, as a deployment runs them."""

    def __init__(self, sv: Services, bootstrap: str) -> None:
        self._sv = sv
        self._bootstrap = bootstrap
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        env = {
            **os.environ,
            "PLERA_DATABASE_URL": self._sv.db.url,
            "PLERA_KAFKA_BOOTSTRAP": self._bootstrap,
            "PLERA_KAFKA_GROUP": f"bench-{uuid.uuid4().hex[:8]}",
            "PLERA_DATA_DIR": str(self._sv.settings.data_dir),
            "PLERA_SECRET_KEY": "bench",
        }
        plera = str(Path(sys.executable).with_name("plera"))
        for command in ("relay", "consume"):
            self._procs.append(subprocess.Popen([plera, command], env=env, stderr=subprocess.DEVNULL))

    def catch_up(self, timeout: float = 60.0) -> None:
        probe = KafkaConsumer(bootstrap_servers=self._bootstrap, group_id=None)
        relay = Relay(self._sv, self._bootstrap)
        deadline = time.monotonic() + timeout
        try:
            head = self._sv.events.app.recorder.max_notification_id() or 0
            while relay.position() < head or not group_caught_up(self._sv, probe, POSITIONS):
                if time.monotonic() > deadline:
                    raise TimeoutError("the pipeline did not catch up")
                time.sleep(0.05)
        finally:
            probe.close()

    def stop(self) -> None:
        for proc in self._procs:
            proc.terminate()
        for proc in self._procs:
            proc.wait(timeout=30)


def report(name: str, samples: list[float]) -> None:
    print(
        f"  {name}: p50 {percentile(samples, 50):.1f} ms, p99 {percentile(samples, 99):.1f} ms"
        f" (targets 100 / 500 ms), max {max(samples):.1f} ms, n={len(samples)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", default=os.environ.get("PLERA_KAFKA_BOOTSTRAP"))
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    started, bootstrap = broker(args.bootstrap)
    try:
        ensure_topics(bootstrap)
        with scratch_services() as sv:
            load(sv, args.leads)
            events, seconds = relay_throughput(sv, bootstrap)
            print(
                f"relay throughput: {events} events in {seconds:.2f} s = {events / seconds:,.0f} events/s (target >= 5,000)"
            )

            print("lag through Kafka (relay -> broker -> consumer -> read model):")
            kafka = ProcessPipeline(sv, bootstrap)
            kafka.start()
            try:
                report("append to visible", lag(sv, kafka, args.rate, args.seconds))
            finally:
                kafka.stop()

        with scratch_services() as sv:
            print("lag embedded (LISTEN/NOTIFY -> in-process feed -> read model):")
            embedded = EmbeddedPipeline(sv, ALL)
            embedded.start()
            try:
                report("append to visible", lag(sv, embedded, args.rate, args.seconds))
            finally:
                embedded.stop()
    finally:
        if started:
            module, proc = started
            module.stop_broker(proc)


if __name__ == "__main__":
    main()
