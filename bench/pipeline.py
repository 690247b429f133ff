"""The event pipeline's figures: append-to-visible lag at a sustained write rate, and relay throughput.

Run: python bench/pipeline.py [--bootstrap HOST:PORT] [--rate 200] [--seconds 20] [--leads 10000] [--passes 3]
                              [--skip kafka|embedded|relay]
     (PLERA_KAFKA_BOOTSTRAP or --bootstrap names the broker; without one, infra/kafka_broker.py
      starts a fresh test broker for the run. PLERA_DATABASE_URL, else the local PostgreSQL. Each part
      runs on a scratch database of its own. Everything, broker and PostgreSQL included, shares this
      machine's cores, so the load average is printed beside each part, and each lag part prints the
      CPU that the machine and the pipeline's processes used while the writes ran.)

1. Lag, at a sustained rate, through Kafka (`plera relay` and `plera consume`, processes of their
   own, as a deployment runs them; the consumer starts at the topics' current end) and embedded (the
   in-process feed woken by LISTEN/NOTIFY, in this process, as `plera up` runs it without Kafka).
   Set-up: 400 leads enrolled in a launched sequence, and the read models caught up. Then writers
   pause and resume those enrollments through the real command (`control_enrollment`, what
   POST /v1/enrollments/{id}/pause and /resume run: load the aggregate, append one event, commit),
   on a fixed schedule of --rate writes per second for --seconds: an open loop, with a pool of writer
   threads, so a slow commit does not hold back the writes after it. Each write is one event; its
   moment is taken when its commit has returned, with the aggregate version it wrote. An observer
   polls read.enrollments, whose rows GET /v1/sequences/{id}/leads serves, by id every 2 ms, and
   takes the moment each row first shows that version or a later one.
   Lag = visible - committed, with a resolution of about 2 ms.
   Printed: the rate achieved (writes committed / (last commit - first scheduled write)), how late
   writes started against their schedule (p50, p99: near 0 when the rate was really sustained),
   failed writes, then the lag's p50, p99 and max. Targets: 200 writes/s, p50 <= 100 ms, p99 <= 500 ms.
2. Relay throughput. --leads leads (10,000: about 30,000 events) are imported and enrolled through
   the commands. Then `Relay.publish_pending` publishes the whole log, from position 0 to the head,
   --passes times (the position is set back to 0 between passes; republishing is harmless, as
   subscribers dedupe by ce_id). Printed: events/s of each pass, by the wall clock, every step
   included (reading the log, decoding, envelopes, CloudEvents, the producer, the broker's
   acknowledgements, the position's update), and the median; target >= 5,000. The relay is bound by
   the CPU (one interpreter), so each pass also prints its events per CPU second: on a busy machine
   the wall-clock rate falls with the share of a core the relay got, that one much less. Then one
   more pass takes the relay's steps one after another, each timed, to show where the time goes,
   and the CPU of the relay's thread and of the producer's network thread.
   It runs after the lag, because a broker may stay busy for a while digesting what it was sent.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

from common import machine_load, make_ready_on_sinks, percentile, scratch_services
from kafka import KafkaConsumer, TopicPartition

from plera.commands.enrollments import control_enrollment, enrollments_of
from plera.commands.lead_import import parse_json_rows
from plera.commands.runs import CreateRun, create_run
from plera.commands.sequences import CreateSequence, create_sequence, launch_sequence
from plera.commands.source_groups import CreateSourceGroup, create_source_group, import_leads, mark_enriched
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.consumers.cloudevent import headers_list, to_kafka_message
from plera.consumers.kafka_consumer import POSITIONS, group_caught_up, source_of
from plera.consumers.pipeline import EmbeddedPipeline, Pipeline
from plera.consumers.relay import TOPICS, Relay, ensure_topics, make_producer
from plera.envelope import StoredEnvelopes
from plera.projections.all import ALL
from plera.projections.runner import ensure_schema
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


def launched(sv: Services, leads: int, name: str) -> tuple[UUID, Any]:
    """A workspace with `leads` leads enrolled in a launched two-step sequence."""
    ws = create_workspace(sv, CreateWorkspace(name=name), "bench").workspace
    run = create_run(sv, ws.id, CreateRun(name=name), "bench")
    group = create_source_group(sv, ws.id, run.id, CreateSourceGroup(name=name), "bench")
    rows = [{"email": f"lead{i}@{name}.example", "first_name": f"Lead{i}"} for i in range(leads)]
    import_leads(sv, ws.id, group.id, parse_json_rows(rows), "bench")
    mark_enriched(sv, ws.id, group.id, "bench")
    steps = [{"channel": "email", "delay_days": d, "condition": "no_reply"} for d in (0, 3)]
    cmd = CreateSequence.model_validate(
        {"run_id": run.id, "name": name, "source_group_ids": [group.id], "steps": steps}
    )
    sequence = create_sequence(sv, ws.id, cmd, "bench")
    make_ready_on_sinks(sv, ws.id, sequence.id)
    sequence, _ = launch_sequence(sv, ws.id, sequence.id, "bench")
    return ws.id, sequence


# --------------------------------------------------------------------------- relay throughput


def relay_pass(sv: Services, bootstrap: str) -> tuple[int, float, float]:
    """The whole log through `Relay.publish_pending`, from position 0: (events, seconds, CPU seconds)."""
    with sv.db.pool.connection() as conn:
        conn.execute("UPDATE plera_relay SET position = 0 WHERE id = 1")
    relay = Relay(sv, bootstrap)
    last = sv.events.app.recorder.max_notification_id() or 0
    started, cpu = time.perf_counter(), time.process_time()
    published = 0
    try:
        while relay.position() < last:
            published += relay.publish_pending()
        return published, time.perf_counter() - started, time.process_time() - cpu
    finally:
        relay.close()


STAGES = (
    "read the log (select_notifications)",
    "decode (StoredEnvelopes)",
    "CloudEvents SDK (to_kafka_message)",
    "producer.send (kafka-python)",
    "flush: wait for the acknowledgements",
)


def relay_stages(sv: Services, bootstrap: str, batch: int = 5000) -> tuple[dict[str, float], float, float]:
    """The relay's steps over the whole log, one after another as `publish_pending` takes them, each
    timed. Returns the seconds of each, the CPU seconds of this thread, and of the whole process (the
    rest is mostly the producer's network thread: building, compressing and sending record batches)."""
    recorder, envelope_of = sv.events.app.recorder, StoredEnvelopes(sv.events.app.mapper)
    producer = make_producer(bootstrap)
    for topic in TOPICS:
        producer.partitions_for(topic)  # metadata first, as a running relay has it
    spent = dict.fromkeys(STAGES, 0.0)
    thread_cpu, process_cpu = time.thread_time(), time.process_time()
    after = 0
    try:
        while True:
            marks = [time.perf_counter()]
            notifications = recorder.select_notifications(after + 1, batch)
            if not notifications:
                break
            marks.append(time.perf_counter())
            envelopes = [envelope_of(n) for n in notifications]
            marks.append(time.perf_counter())
            messages = [(e.topic, to_kafka_message(e)) for e in envelopes]
            records = [(topic, m.key, m.value, headers_list(m)) for topic, m in messages]
            marks.append(time.perf_counter())
            futures = [producer.send(t, key=k, value=v, headers=h) for t, k, v, h in records]
            marks.append(time.perf_counter())
            producer.flush(timeout=30)
            for future in futures:
                future.get(timeout=0)
            marks.append(time.perf_counter())
            for stage, begin, end in zip(STAGES, marks[:-1], marks[1:], strict=True):
                spent[stage] += end - begin
            after = notifications[-1].id
        return spent, time.thread_time() - thread_cpu, time.process_time() - process_cpu
    finally:
        producer.close(timeout=5)


def report_relay(sv: Services, bootstrap: str, passes: int) -> None:
    events = sv.events.app.recorder.max_notification_id() or 0
    print(f"relay throughput ({events:,} events in the log; {machine_load()}):")
    rates = []
    for n in range(1, passes + 1):
        published, seconds, cpu = relay_pass(sv, bootstrap)
        rates.append(published / seconds)
        print(
            f"  pass {n}: {published:,} events in {seconds:.2f} s = {published / seconds:,.0f} events/s"
            f" (process CPU {cpu:.2f} s, {cpu / seconds:.0%} of the wall time: {published / cpu:,.0f} events"
            " per CPU second, what a core of its own would give)"
        )
    print(f"  median: {statistics.median(rates):,.0f} events/s (target >= 5,000)")
    spent, thread_cpu, process_cpu = relay_stages(sv, bootstrap)
    total = sum(spent.values())
    print(f"  where the time goes (the same steps, timed one by one: {events / total:,.0f} events/s):")
    for stage, seconds in spent.items():
        print(f"    {stage:40} {seconds:6.2f} s {seconds / total:6.1%}")
    print(
        f"    CPU: {thread_cpu:.2f} s in the relay's thread, {process_cpu - thread_cpu:.2f} s in the producer's"
        " network thread (record batches: gzip, CRC, sockets), which shares the interpreter lock with it"
    )


# --------------------------------------------------------------------------- CPU


class CpuMeter:
    """CPU used between two moments, from /proc: the machine's, and that of some processes by name.
    Where /proc is missing (not Linux), it reports nothing."""

    def __init__(self, processes: dict[str, int]) -> None:
        self._processes = processes
        self._start = self._sample()

    @staticmethod
    def _jiffies(pid: int) -> float | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return float(fields[11]) + float(fields[12])  # utime, stime

    def _sample(self) -> tuple[float, dict[str, float | None], list[float]]:
        try:
            machine = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except OSError:
            machine = []
        return time.perf_counter(), {name: self._jiffies(pid) for name, pid in self._processes.items()}, machine

    def report(self) -> str:
        """'machine 93% busy; name 0.41 cores, ...' over the time since the meter was made."""
        (t0, procs0, machine0), (t1, procs1, machine1) = self._start, self._sample()
        if not machine0 or not machine1:
            return "CPU: not measured here (no /proc)"
        tick, seconds = os.sysconf("SC_CLK_TCK"), t1 - t0
        delta = [b - a for a, b in zip(machine0, machine1, strict=False)]
        idle = delta[3] + (delta[4] if len(delta) > 4 else 0.0)  # idle + iowait
        parts = [f"machine {1 - idle / sum(delta):.0%} busy"]
        for name, before in procs0.items():
            after = procs1.get(name)
            if before is not None and after is not None:
                parts.append(f"{name} {(after - before) / tick / seconds:.2f} cores")
        return "CPU over the writes: " + "; ".join(parts)


# --------------------------------------------------------------------------- lag


# Writes wait on commits and on the CPU more than they compute: several at once keep the schedule
# when some are slow (the pool's connections: 10, of which the observer and a feed take one each).
WRITERS = 6


@dataclass
class Write:
    enrollment_id: UUID
    version: int
    late: float  # seconds after its scheduled moment that the write began
    committed: float  # perf_counter once the command returned: its transaction had committed


@dataclass
class LagRun:
    writes: list[Write] = field(default_factory=list)
    visible: dict[int, float] = field(default_factory=dict)  # index in writes -> perf_counter when seen
    failed: int = 0
    elapsed: float = 0.0
    cpu: str = ""


def lag(
    sv: Services, pipeline: Pipeline, rate: int, seconds: float, watch: dict[str, int], enrollments: int = 400
) -> LagRun:
    workspace_id, sequence = launched(sv, enrollments, f"lag{uuid.uuid4().hex[:6]}")
    ids = sorted(e.id for e in enrollments_of(sv, sequence))
    pipeline.catch_up(timeout=300)
    result = LagRun()
    arrivals: collections.deque[int] = collections.deque()  # indexes of committed writes, for the observer
    lock = threading.Lock()
    writing = threading.Event()
    writing.set()

    def observe() -> None:
        pending: dict[int, Write] = {}
        with sv.db.pool.connection() as conn:
            conn.autocommit = True
            while writing.is_set() or arrivals or pending:
                while arrivals:
                    i = arrivals.popleft()
                    pending[i] = result.writes[i]
                if pending:
                    wanted = list({w.enrollment_id for w in pending.values()})
                    rows = conn.execute(
                        "SELECT id, version FROM read.enrollments WHERE id = ANY(%s)", (wanted,)
                    ).fetchall()
                    now = time.perf_counter()
                    shown = dict(rows)
                    for i, w in list(pending.items()):
                        if shown.get(w.enrollment_id, 0) >= w.version:
                            result.visible[i] = now
                            del pending[i]
                    if not writing.is_set() and now - deadline > 0:
                        break  # never seen: counted below as missing
                time.sleep(0.002)

    def write(n: int, scheduled: float) -> None:
        begun = time.perf_counter()
        # Every enrollment in turn; each pass over them pauses, the next resumes, and so on.
        action = "pause" if (n // len(ids)) % 2 == 0 else "resume"
        try:
            enrollment = control_enrollment(sv, workspace_id, ids[n % len(ids)], action, "bench")
        except Exception:  # e.g. a conflict, were a write still running when its enrollment's next came
            with lock:
                result.failed += 1
            return
        committed = time.perf_counter()
        with lock:
            result.writes.append(Write(enrollment.id, enrollment.version, begun - scheduled, committed))
            arrivals.append(len(result.writes) - 1)

    deadline = float("inf")
    observer = threading.Thread(target=observe, daemon=True)
    observer.start()
    interval = 1.0 / rate
    meter = CpuMeter(watch)
    with ThreadPoolExecutor(max_workers=WRITERS, thread_name_prefix="bench-writer") as writers:
        start = time.perf_counter()
        for n in range(int(rate * seconds)):
            scheduled = start + n * interval
            pause = scheduled - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            writers.submit(write, n, scheduled)
    result.elapsed = max((w.committed for w in result.writes), default=start) - start
    result.cpu = meter.report()
    deadline = time.perf_counter() + 60
    writing.clear()
    observer.join(timeout=90)
    return result


def report_lag(run: LagRun, rate: int) -> None:
    achieved = len(run.writes) / run.elapsed if run.elapsed else 0.0
    late = [w.late * 1000 for w in run.writes]
    print(
        f"  writes: {len(run.writes):,} committed in {run.elapsed:.1f} s = {achieved:.1f} writes/s"
        f" (target {rate}); started late against the schedule: p50 {percentile(late, 50):.1f} ms,"
        f" p99 {percentile(late, 99):.1f} ms; failed: {run.failed}"
    )
    samples = [(run.visible[i] - w.committed) * 1000 for i, w in enumerate(run.writes) if i in run.visible]
    missing = len(run.writes) - len(samples)
    print(
        f"  append to visible: p50 {percentile(samples, 50):.1f} ms, p99 {percentile(samples, 99):.1f} ms"
        f" (targets 100 / 500 ms), max {max(samples):.1f} ms, n={len(samples)}"
        + (f", NEVER VISIBLE: {missing}" if missing else "")
    )
    print(f"  {run.cpu}")


class ProcessPipeline:
    """`plera relay` and `plera consume` as separate processes, as a deployment runs them."""

    def __init__(self, sv: Services, bootstrap: str) -> None:
        self._sv = sv
        self._bootstrap = bootstrap
        self._procs: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def start(self) -> None:
        self._start_positions_at_the_end()
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
            log = Path(tempfile.mkstemp(prefix=f"plera-bench-{command}-", suffix=".log")[1])
            with open(log, "wb") as out:
                proc = subprocess.Popen([plera, command], env=env, stdout=out, stderr=subprocess.STDOUT)
            self._procs.append((command, proc, log))

    def _start_positions_at_the_end(self) -> None:
        """The consumer starts at the topics' current end: the broker may hold other runs' events."""
        probe = KafkaConsumer(bootstrap_servers=self._bootstrap, group_id=None)
        try:
            partitions = [TopicPartition(t, p) for t in TOPICS for p in (probe.partitions_for_topic(t) or ())]
            ends = probe.end_offsets(partitions)
        finally:
            probe.close()
        with self._sv.db.pool.connection() as conn:
            ensure_schema(conn, ALL)
            for tp, end in ends.items():
                conn.execute(
                    "INSERT INTO read.positions (consumer, source, position) VALUES (%s, %s, %s)"
                    " ON CONFLICT (consumer, source) DO UPDATE SET position = EXCLUDED.position",
                    (POSITIONS, source_of(tp), end),
                )

    def catch_up(self, timeout: float = 60.0) -> None:
        probe = KafkaConsumer(bootstrap_servers=self._bootstrap, group_id=None)
        relay = Relay(self._sv, self._bootstrap)
        deadline = time.monotonic() + timeout
        try:
            head = self._sv.events.app.recorder.max_notification_id() or 0
            while relay.position() < head or not group_caught_up(self._sv, probe, POSITIONS):
                for command, proc, log in self._procs:
                    if proc.poll() is not None:
                        raise RuntimeError(f"plera {command} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    raise TimeoutError("the pipeline did not catch up")
                time.sleep(0.05)
        finally:
            probe.close()

    def pids(self) -> dict[str, int]:
        return {f"plera {command}": proc.pid for command, proc, _ in self._procs}

    def stop(self) -> None:
        for _, proc, _ in self._procs:
            proc.terminate()
        for _, proc, log in self._procs:
            proc.wait(timeout=30)
            log.unlink(missing_ok=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap", default=os.environ.get("PLERA_KAFKA_BOOTSTRAP"))
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--skip", choices=("relay", "kafka", "embedded"), action="append", default=[])
    args = parser.parse_args()
    started, bootstrap = broker(args.bootstrap)
    broker_pid = {"broker": started[1].pid} if started else {}
    try:
        ensure_topics(bootstrap)
        # The lag first: after the throughput passes a broker may keep a core busy for a while,
        # digesting what it was sent, and the lag would measure that.
        if "kafka" not in args.skip:
            with scratch_services() as sv:
                print(f"lag through Kafka (relay -> broker -> consumer -> read model; {machine_load()}):")
                kafka = ProcessPipeline(sv, bootstrap)
                kafka.start()
                try:
                    watch = {"this process (writers, observer)": os.getpid(), **kafka.pids(), **broker_pid}
                    report_lag(lag(sv, kafka, args.rate, args.seconds, watch), args.rate)
                finally:
                    kafka.stop()

        if "embedded" not in args.skip:
            with scratch_services() as sv:
                print(f"lag embedded (LISTEN/NOTIFY -> in-process feed -> read model; {machine_load()}):")
                embedded = EmbeddedPipeline(sv, ALL)
                embedded.start()
                try:
                    watch = {"this process (writers, observer, feed)": os.getpid()}
                    report_lag(lag(sv, embedded, args.rate, args.seconds, watch), args.rate)
                finally:
                    embedded.stop()

        if "relay" not in args.skip:
            with scratch_services() as sv:
                launched(sv, args.leads, "bench")
                report_relay(sv, bootstrap, args.passes)
        print(f"({machine_load()} at the end)")
    finally:
        if started:
            module, proc = started
            module.stop_broker(proc)


if __name__ == "__main__":
    main()
