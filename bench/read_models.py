"""The read models' figures: rebuild speed over a real log, handler throughput, dashboard and drill-down p99.

Run: python bench/read_models.py [--leads N] [--enrollments M]
     (PLERA_DATABASE_URL, else the local server; a scratch database is made and dropped)

1. N leads (default 10,000) go through the real commands (import, enrich, launch), and
   `projections.maintenance.rebuild` replays the resulting log: events/s (target >= 5,000), with
   the machine's load and this process's CPU per event beside it.
2. M enrollments (default 100,000) of one sequence are made as envelopes, in varied states
   (sent, scheduled, replied, skipped, failed, paused, stopped), and applied through the handlers
   of the read models the dashboard and drill-down read (catalog, leads, enrollments) with
   apply_batch by two writers at once (as two Kafka consumers would): events/s.
   Then the dashboard query runs 300 times: p50 and p99 (target p99 <= 50 ms); the same numbers
   derived by GROUP BY (sequence_counts.recount), for comparison; and the drill-down's first page.

--keep keeps the scratch database; --measure URL WORKSPACE SEQUENCE times a kept one again.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from common import machine_load, make_ready_on_sinks, scratch_services

from plera.aggregates.enrollment import LeadEnrollment
from plera.commands.lead_import import parse_json_rows
from plera.commands.runs import CreateRun, create_run
from plera.commands.sequences import CreateSequence, create_sequence, launch_sequence
from plera.commands.source_groups import CreateSourceGroup, create_source_group, import_leads, mark_enriched
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.consumers.inprocess import InProcessFeed
from plera.envelope import Envelope, event_id_of
from plera.projections.all import ALL
from plera.projections.dashboard import sequence_dashboard
from plera.projections.drilldown import sequence_leads
from plera.projections.maintenance import rebuild
from plera.projections.runner import apply_batch
from plera.projections.sequence_counts import counts, recount
from plera.runtime import Services

STEPS = [{"channel": "email", "delay_days": d, "condition": "no_reply"} for d in (0, 3, 2, 2)]


def real_log(sv: Services, n: int) -> tuple[Any, Any]:
    ws = create_workspace(sv, CreateWorkspace(name="bench"), "bench").workspace
    run = create_run(sv, ws.id, CreateRun(name="bench"), "bench")
    group = create_source_group(sv, ws.id, run.id, CreateSourceGroup(name="bench"), "bench")
    rows = [{"email": f"lead{i}@bench.example", "first_name": f"Lead{i}", "company": "Bench"} for i in range(n)]
    import_leads(sv, ws.id, group.id, parse_json_rows(rows), "bench")
    mark_enriched(sv, ws.id, group.id, "bench")
    cmd = CreateSequence.model_validate(
        {"run_id": run.id, "name": "bench", "source_group_ids": [group.id], "steps": STEPS}
    )
    sequence = create_sequence(sv, ws.id, cmd, "bench")
    make_ready_on_sinks(sv, ws.id, sequence.id)
    launch_sequence(sv, ws.id, sequence.id, "bench")
    return ws, run


class Story:
    """Envelopes for one enrollment, numbered as the aggregate would number them."""

    def __init__(self, workspace_id: uuid.UUID, sequence_id: uuid.UUID, lead_id: uuid.UUID, at: datetime) -> None:
        self.id = LeadEnrollment.create_id(sequence_id, lead_id)
        self.workspace_id, self.at, self.version = workspace_id, at, 0
        self.out: list[Envelope] = []
        self.add("LeadEnrolled", sequence_id=str(sequence_id), lead_id=str(lead_id), steps=STEPS)

    def add(self, kind: str, **payload: Any) -> None:
        self.version += 1
        self.at += timedelta(seconds=1)
        self.out.append(
            Envelope(
                event_id=event_id_of(self.id, self.version),
                aggregate="enrollment",
                type=kind,
                version=1,
                aggregate_id=self.id,
                aggregate_version=self.version,
                workspace_id=self.workspace_id,
                occurred_at=self.at,
                actor="bench",
                payload=payload,
            )
        )

    def schedule(self, step: int, days: int = 0) -> None:
        self.add("StepScheduled", step=step, eligible_at=(self.at + timedelta(days=days)).isoformat())

    def send(self, step: int) -> None:
        self.add("StepDispatching", step=step, message_id=f"<{step}@bench>", sender_id=str(uuid.uuid4()))
        self.add("MessageSent", step=step, message_id=f"<{step}@bench>", channel="email")


def synthetic(workspace_id: uuid.UUID, sequence_id: uuid.UUID, m: int) -> list[Envelope]:
    rng = random.Random(7)
    start = datetime(2026, 3, 2, 9, tzinfo=UTC)
    out: list[Envelope] = []
    stories: list[list[Envelope]] = []
    for i in range(m):
        lead_id = uuid.uuid5(workspace_id, f"email:lead{i}@synthetic.example")
        out.append(
            Envelope(
                event_id=event_id_of(lead_id, 1),
                aggregate="lead",
                type="LeadImported",
                version=1,
                aggregate_id=lead_id,
                aggregate_version=1,
                workspace_id=workspace_id,
                occurred_at=start,
                actor="bench",
                payload={"source_group_id": str(uuid.uuid4()), "details": {"first_name": f"Lead{i}", "company": "S"}},
            )
        )
        story = Story(workspace_id, sequence_id, lead_id, start)
        story.schedule(1)
        sent = rng.choice((0, 1, 1, 2, 2, 3, 4))
        for step in range(1, sent + 1):
            story.send(step)
            if step < 4:
                story.schedule(step + 1, days=3)
        roll = rng.random()
        if roll < 0.08 and sent:
            story.add("ReplyDetected", channel="email", message_ref=None)
            for step in range(sent + 1, 5):
                story.add("StepSkipped", step=step, reason="replied")
            story.add("EnrollmentStopped", reason="replied")
        elif roll < 0.12 and sent < 4:
            story.add("EnrollmentPaused", reason="manual")
        elif roll < 0.15 and sent < 4:
            story.add("EnrollmentStopped", reason="manual")
        elif sent == 4:
            story.add("EnrollmentCompleted")
        stories.append(story.out)
    # As in a real log, one lead's events are hours or days apart: the r-th events of all leads come together.
    for r in range(max(len(s) for s in stories)):
        out.extend(s[r] for s in stories if r < len(s))
    return out


# The dashboard and the drill-down read these; the synthetic load goes through them only, so that the
# 100,000-enrollment figure does not wait on read models it does not measure (the inbox's, the timeline's).
DASHBOARD = [p for p in ALL if p.name in ("catalog", "leads", "enrollments")]


def apply_all(sv: Services, envelopes: list[Envelope]) -> None:
    with sv.db.pool.connection() as conn:
        for start in range(0, len(envelopes), 2000):
            apply_batch(conn, DASHBOARD, envelopes[start : start + 2000], {}, consumer="bench")


def timed(fn: Any, runs: int) -> tuple[float, float]:
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


def measure(url: str, workspace_id: uuid.UUID, sequence_id: uuid.UUID) -> list[str]:
    """The dashboard's and the drill-down's timings on a loaded read model."""
    lines = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")  # as autovacuum would have soon after the load
        board = sequence_dashboard(conn, workspace_id, sequence_id)
        assert board is not None
        lines.append(f"dashboard, {board['totals']['enrolled']} enrollments (target p99 <= 50 ms):")
        p50, p99 = timed(lambda: sequence_dashboard(conn, workspace_id, sequence_id), 300)
        lines.append(f"  as loaded:             p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        p50, p99 = timed(lambda: recount(conn, sequence_id), 100)
        lines.append(f"  the same by GROUP BY:  p50 {p50:.1f} ms, p99 {p99:.1f} ms (sequence_counts.recount)")
        p50, p99 = timed(lambda: sequence_leads(conn, workspace_id, sequence_id, step=2, status="active"), 300)
        lines.append(f"drill-down page (step 2, active): p50 {p50:.1f} ms, p99 {p99:.1f} ms")
        kept = {k: v for k, v in counts(conn, [sequence_id])[sequence_id].items() if v}
        assert kept == recount(conn, sequence_id), "the counters differ from a recount"
        size, hot, updates = conn.execute(
            "SELECT pg_size_pretty(pg_relation_size('read.enrollments')), n_tup_hot_upd, n_tup_upd"
            " FROM pg_stat_user_tables WHERE schemaname = 'read' AND relname = 'enrollments'"
        ).fetchone() or ("?", 0, 0)
        lines.append(f"read.enrollments:        {size}, {hot} of {updates} updates HOT")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--enrollments", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database for --measure")
    parser.add_argument("--measure", nargs=3, metavar=("URL", "WORKSPACE", "SEQUENCE"), help="only time a kept one")
    args = parser.parse_args()
    if args.measure:
        url, workspace, sequence_id = args.measure
        print("\n".join(measure(url, uuid.UUID(workspace), uuid.UUID(sequence_id))))
        return
    with scratch_services(keep=args.keep) as sv:
        url = sv.db.url
        ws, run = real_log(sv, args.leads)
        log_events = sv.events.app.recorder.max_notification_id() or 0
        InProcessFeed(sv, ALL).catch_up()
        load, cpu = machine_load(), time.process_time()
        rebuilt, rebuild_s = rebuild(sv, ALL)
        rebuild_cpu = time.process_time() - cpu

        cmd = CreateSequence.model_validate({"run_id": run.id, "name": "synthetic", "steps": STEPS})
        sequence = create_sequence(sv, ws.id, cmd, "bench")
        make_ready_on_sinks(sv, ws.id, sequence.id)
        launch_sequence(sv, ws.id, sequence.id, "bench")
        InProcessFeed(sv, ALL).catch_up()
        envelopes = synthetic(ws.id, sequence.id, args.enrollments)
        t = time.perf_counter()
        # Two writers at once, each with its share of the aggregates, as two Kafka consumers would be:
        # nothing they write is shared, so they neither wait for nor deadlock with each other.
        shards = [[e for e in envelopes if e.aggregate_id.int % 2 == k] for k in (0, 1)]
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda shard: apply_all(sv, shard), shards))
        apply_s = time.perf_counter() - t
        timings = measure(url, ws.id, sequence.id)

    print(f"real log:                {args.leads} leads enrolled, {log_events} events")
    print(f"rebuild (all):           {rebuilt} events in {rebuild_s:.2f} s ({rebuilt / rebuild_s:,.0f} events/s)")
    # The wall-clock rate moves with what else the machine runs; this process's CPU per event much less
    # (the server's work, about as much again, runs beside it in pipeline mode).
    print(f"                         {1e6 * rebuild_cpu / rebuilt:.0f} µs of this process's CPU per event; {load}")
    print(
        f"handlers via apply_batch: {len(envelopes)} events in {apply_s:.2f} s ({len(envelopes) / apply_s:,.0f} events/s)"
    )
    print("\n".join(timings))
    if args.keep:
        print(f"kept: --measure '{url}' {ws.id} {sequence.id}")


if __name__ == "__main__":
    main()
