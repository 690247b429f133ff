"""The sending engine's figures: dispatch throughput through the whole send protocol, and the time to
schedule 100,000 enrollments.

Run: python bench/dispatch.py [--leads 3000] [--senders 100] [--concurrency 8] [--speed 10]
                              [--enrollments 100000] [--profile 300] [--only throughput|schedule]
     (PLERA_DATABASE_URL, else the local PostgreSQL; each part on a scratch database of its own.
      Everything shares this machine's cores, so the load average is printed beside the figures.)

1. Dispatch throughput. A workspace in Berlin, --leads leads (email only, so in the workspace's zone),
   a one-step email sequence, and --senders email senders (at most 100: a sequence takes no more per
   channel) with daily_limit 10,000 each, all pointing
   at a local SMTP sink (aiosmtpd, in this process, as `plera demo` uses). The limits are opened
   wide: the clock is Tuesday 10:00 (the window open) and runs --speed times faster than real time,
   so a sender's spacing (window ÷ daily_limit = 2.88 s, ±20%) does not bind: its ceiling is printed.
   The read models are caught up, then ONE worker (`Worker.dispatch_due` called in this thread; each
   pass sends to up to --concurrency senders at once) claims and dispatches until every lead's
   step went out, while the in-process read-model feed runs beside it, as in `plera up`. Each
   dispatch is the whole protocol: claim with the sender's counter, re-check against the aggregates,
   StepDispatching, SMTP to the sink, MessageSent and the outcome's bookkeeping. Printed: sends/s
   (target >= 100), a check that the sink got each message once, and where the time goes: seconds
   per phase (outermost phase counted, so loads inside a claim count as the claim's).
   With --profile N (and pyinstrument installed) N more leads are dispatched, a pass of up to 50
   at a time, in this thread under pyinstrument, and the heaviest frames are printed.
2. Scheduling. --enrollments leads are imported and marked enriched, a four-step email sequence is
   made ready, the read models catch up (readiness reads the leads there), and `launch_sequence` is
   timed: it checks readiness, enrolls every lead and schedules its step 1 (LeadEnrolled and
   StepScheduled per lead). Printed: seconds (target <= 60) and events/s; readiness alone is timed
   before, as part of the launch's cost. No feed runs during the launch.
3. The policy's cost per call (recipient zones, step timing, window checks) is bench/policy.py's.
"""

from __future__ import annotations

import argparse
import multiprocessing
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from common import machine_load, scratch_services

import plera.commands.dispatch as dispatch_module
import plera.commands.recheck as recheck_module
import plera.commands.send_outcomes as outcomes_module
import plera.scheduling.worker as worker_module
from plera.clock import FixedClock
from plera.commands.claims import claim_due
from plera.commands.dispatch import dispatch_all
from plera.commands.lead_import import parse_json_rows
from plera.commands.messaging import readiness
from plera.commands.outbox import Outbox
from plera.commands.runs import CreateRun, create_run
from plera.commands.sender_accounts import AddSenderAccount, add_sender_account
from plera.commands.sequences import CreateSequence, create_sequence, launch_sequence
from plera.commands.source_groups import CreateSourceGroup, create_source_group, import_leads, mark_enriched
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.consumers.pipeline import EmbeddedPipeline
from plera.demo import make_ready
from plera.demo_sinks import SmtpSink
from plera.projections.all import ALL
from plera.runtime import Services
from plera.scheduling import policy
from plera.scheduling.worker import Worker

ZONE = ZoneInfo("Europe/Berlin")
TUESDAY_10 = datetime(2026, 3, 3, 10, 0, tzinfo=ZONE)  # the window open, no holiday
ACTOR = "bench"


class RunningClock:
    """Time from `start`, moving `speed` times as fast as real time."""

    def __init__(self, start: datetime, speed: float) -> None:
        self.start, self.speed, self._t0 = start.astimezone(UTC), speed, time.perf_counter()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.perf_counter() - self._t0) * self.speed)


class Phases:
    """Seconds per phase of the protocol, summed over every thread that runs one. Only the outermost
    phase of a call counts, so nothing is counted twice."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._depth = threading.local()

    def timed(self, name: str, fn: Callable[..., Any], *, outermost: bool = True) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self._depth, "n", 0)
            if outermost and depth:
                return fn(*args, **kwargs)
            if outermost:
                self._depth.n = depth + 1
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - start
                if outermost:
                    self._depth.n = depth
                with self._lock:
                    self.seconds[name] += elapsed
                    self.calls[name] += 1

        return wrapper


@contextmanager
def phases_of(sv: Services) -> Iterator[Phases]:
    """Times the protocol's phases by wrapping the names the worker and dispatch call (undone after)."""
    phases = Phases()
    patched: list[tuple[Any, str, Any]] = []

    def patch(owner: Any, name: str, label: str, *, outermost: bool = True) -> None:
        original = getattr(owner, name)
        patched.append((owner, name, vars(owner).get(name)))  # None: a method found on the class
        setattr(owner, name, phases.timed(label, original, outermost=outermost))

    patch(worker_module, "dispatch_all", "dispatch (total)", outermost=False)
    patch(worker_module, "claim_due", "claim: due rows, sender counters")
    patch(sv.events, "get", "load aggregates")
    patch(sv.events, "load_many", "load aggregates")
    patch(sv.events, "save", "append events")
    patch(Outbox, "send_all", "send: SMTP to the sink")
    patch(dispatch_module, "release_all", "finish / release the claim")
    patch(outcomes_module, "finish_all", "finish / release the claim")
    patch(recheck_module, "suppression_for", "suppression list")
    patch(recheck_module, "zone_of", "policy: zone, window")
    patch(recheck_module.policy, "is_open", "policy: zone, window")
    render = recheck_module.OutboundMessage.for_step
    patched.append((recheck_module.OutboundMessage, "for_step", recheck_module.OutboundMessage.__dict__["for_step"]))
    recheck_module.OutboundMessage.for_step = classmethod(  # type: ignore[method-assign, assignment]
        lambda cls, *a, **k: phases.timed("render the message", render)(*a, **k)
    )
    try:
        yield phases
    finally:
        for owner, name, original in reversed(patched):
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)


def _serve_sink(conn: Connection) -> None:
    """The SMTP sink's process: sends its port, then what it received (count, distinct ids) at each
    "report", until "stop"."""
    with SmtpSink() as sink:
        conn.send(sink.port)
        while conn.recv() == "report":
            received = sink.received
            conn.send((len(received), len({m.message_id for m in received})))


@contextmanager
def sink_process() -> Iterator[tuple[int, Callable[[], tuple[int, int]]]]:
    """The sink in a process of its own, as a mail server is: its work does not take this process's GIL."""
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    process = multiprocessing.get_context("spawn").Process(target=_serve_sink, args=(theirs,), daemon=True)
    process.start()
    port = ours.recv()

    def received() -> tuple[int, int]:
        ours.send("report")
        answer: tuple[int, int] = ours.recv()
        return answer

    try:
        yield port, received
    finally:
        ours.send("stop")
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()


def setup_sequence(
    sv: Services, workspace_id: UUID, run_id: UUID, n: int, senders: list[UUID], steps: list[dict[str, Any]], tag: str
) -> UUID:
    group = create_source_group(sv, workspace_id, run_id, CreateSourceGroup(name=tag), ACTOR)
    rows = [{"email": f"{tag}{i}@bench.example", "first_name": f"Lead{i}", "company": "Bench"} for i in range(n)]
    import_leads(sv, workspace_id, group.id, parse_json_rows(rows), ACTOR)
    mark_enriched(sv, workspace_id, group.id, ACTOR)
    body = {"run_id": run_id, "name": tag, "source_group_ids": [group.id], "steps": steps}
    sequence = create_sequence(sv, workspace_id, CreateSequence.model_validate(body), ACTOR)
    make_ready(sv, workspace_id, sequence.id, ACTOR, senders={"email": senders})
    return sequence.id


def throughput(args: argparse.Namespace) -> None:
    one_step = [{"channel": "email", "delay_days": 0, "condition": "no_reply"}]
    with scratch_services() as base, sink_process() as (port, received):
        clock = RunningClock(TUESDAY_10, args.speed)
        sv = replace(base, clock=clock)
        ws = create_workspace(sv, CreateWorkspace(name="bench", timezone=ZONE.key), ACTOR).workspace.id
        run = create_run(sv, ws, CreateRun(name="bench"), ACTOR).id
        smtp = {"host": SmtpSink.host, "port": port, "starttls": False}
        senders = [
            add_sender_account(
                sv,
                ws,
                AddSenderAccount.model_validate(
                    {
                        "channel": "email",
                        "name": f"Sender {i}",
                        "address": f"sender{i}@plera.example",
                        "daily_limit": 10_000,
                        "smtp": smtp,
                    }
                ),
                ACTOR,
            ).id
            for i in range(args.senders)
        ]
        sequence = setup_sequence(sv, ws, run, args.leads, senders, one_step, "lead")
        t = time.perf_counter()
        _, enrolled = launch_sequence(sv, ws, sequence, ACTOR)
        launch_s = time.perf_counter() - t
        pipeline = EmbeddedPipeline(sv, ALL)
        t = time.perf_counter()
        pipeline.catch_up()
        catch_up_s = time.perf_counter() - t

        gap = policy.min_gap(policy.SendingRules(timezone=ZONE.key), 10_000).total_seconds()
        print(
            f"1. Dispatch throughput: {enrolled} leads, 1 email step, {args.senders} senders (daily_limit 10,000),"
            f" one worker (concurrency {args.concurrency}, batch {args.batch}, read-model feed {'on' if args.feed else 'off'});"
            f" clock {args.speed:g}x real time"
            f" from {TUESDAY_10:%a %d %b %H:%M %Z}"
        )
        print(f"   set-up: launch {launch_s:.1f} s, read models caught up in {catch_up_s:.1f} s; {machine_load()}")
        print(
            f"   spacing ceiling: {args.senders} senders / ({gap:.2f} s / {args.speed:g}x)"
            f" = {args.senders * args.speed / gap:,.0f} sends/s"
        )

        worker = Worker(sv, name="bench", batch=args.batch, concurrency=args.concurrency, tick_budget=3600)
        if args.feed:
            pipeline.start()  # the read-model feed beside the worker, as in `plera up`
        try:
            with phases_of(sv) as phases:
                t, cpu = time.perf_counter(), time.process_time()
                idle = 0
                while worker.outcomes.get("sent", 0) < enrolled and time.perf_counter() - t < args.timeout:
                    if worker.dispatch_due() == 0:
                        idle += 1
                        time.sleep(0.002)  # everything left waits for its sender's next slot
                elapsed, cpu = time.perf_counter() - t, time.process_time() - cpu
        finally:
            worker.stop()
            pipeline.stop()
        sent = worker.outcomes.get("sent", 0)
        count, distinct = received()
        print(
            f"   sent {sent} in {elapsed:.2f} s: {sent / elapsed:,.1f} sends/s (target >= 100);"
            f" outcomes {dict(worker.outcomes)}; {idle} idle passes"
        )
        print(f"   the sink received {count} messages, {distinct} distinct Message-IDs; {machine_load()}")
        per_send = cpu / max(sent, 1)
        print(
            f"   this process's CPU while sending: {cpu:.1f} s, {per_send * 1e3:.1f} ms per send: with the GIL,"
            f" one worker process tops out near {1 / per_send:,.0f} sends/s on a core of its own"
        )
        total = phases.seconds.pop("dispatch (total)", 0.0)
        inside = sum(v for k, v in phases.seconds.items() if not k.startswith("claim"))
        print("   where the time goes (seconds in each phase; ms per send):")
        for name, seconds in sorted(phases.seconds.items(), key=lambda kv: -kv[1]):
            print(f"     {name:34} {seconds:7.2f} s  {seconds / max(sent, 1) * 1e3:6.2f} ms")
        other = total - inside
        print(f"     {'other Python in dispatch':34} {other:7.2f} s  {other / max(sent, 1) * 1e3:6.2f} ms")
        print(f"     {'(dispatch total)':34} {total:7.2f} s  {total / max(sent, 1) * 1e3:6.2f} ms")

        if args.profile:
            profile(sv, ws, run, senders, one_step, args.profile)
            count, distinct = received()  # the profiled leads' messages too
            print(f"   the sink received {count} messages in all, {distinct} distinct Message-IDs")


def profile(sv: Services, ws: UUID, run: UUID, senders: list[UUID], steps: list[dict[str, Any]], n: int) -> None:
    try:
        from pyinstrument import Profiler
    except ImportError:
        print("   (pyinstrument is not installed: no profile)")
        return
    sequence = setup_sequence(sv, ws, run, n, senders, steps, "profiled")
    launch_sequence(sv, ws, sequence, ACTOR)
    EmbeddedPipeline(sv, ALL).catch_up()
    profiler = Profiler(interval=0.0005)
    done = 0
    t = time.perf_counter()
    profiler.start()
    while done < n and time.perf_counter() - t < 120:
        claims = claim_due(sv, "profiler", limit=50, workspace_id=ws)
        if not claims:
            time.sleep(0.002)
        done += dispatch_all(sv, claims).count("sent")
    profiler.stop()
    elapsed = time.perf_counter() - t
    print(f"   profile: {done} sends in passes in this thread in {elapsed:.2f} s ({done / elapsed:,.1f} sends/s):")
    text = profiler.output_text(unicode=False, color=False, show_all=False)
    lines = [line for line in text.splitlines() if line.strip()]
    print("\n".join("     " + line for line in lines[:60]))


def schedule(args: argparse.Namespace) -> None:
    n = args.enrollments
    steps = [{"channel": "email", "delay_days": d, "condition": "no_reply"} for d in (0, 3, 2, 2)]
    with scratch_services() as base:
        sv = replace(base, clock=FixedClock(TUESDAY_10.astimezone(UTC)))
        ws = create_workspace(sv, CreateWorkspace(name="bench", timezone=ZONE.key), ACTOR).workspace.id
        run = create_run(sv, ws, CreateRun(name="bench"), ACTOR).id
        with SmtpSink() as sink:  # the sender is checked when added; this benchmark sends nothing
            smtp = {"host": sink.host, "port": sink.port, "starttls": False}
            body = {"channel": "email", "name": "Sender", "address": "sender@plera.example", "daily_limit": 10_000}
            sender = add_sender_account(sv, ws, AddSenderAccount.model_validate(body | {"smtp": smtp}), ACTOR).id
        t = time.perf_counter()
        sequence = setup_sequence(sv, ws, run, n, [sender], steps, "lead")
        setup_s = time.perf_counter() - t
        t = time.perf_counter()
        EmbeddedPipeline(sv, ALL).catch_up()  # readiness reads the leads from the read models, as in `plera up`
        catch_up_s = time.perf_counter() - t
        t = time.perf_counter()
        report = readiness(sv, ws, sequence)
        readiness_s = time.perf_counter() - t
        assert report["ready"], report
        before = sv.events.app.recorder.max_notification_id() or 0
        t = time.perf_counter()
        _, enrolled = launch_sequence(sv, ws, sequence, ACTOR)
        launch_s = time.perf_counter() - t
        events = (sv.events.app.recorder.max_notification_id() or 0) - before
        assert enrolled == n, f"enrolled {enrolled} of {n}"
    print(f"2. Scheduling {n:,} enrollments (four-step email sequence); {machine_load()}")
    print(
        f"   set-up (import {n:,} leads, mark enriched, make ready): {setup_s:.1f} s; read models caught up in {catch_up_s:.1f} s"
    )
    print(f"   readiness alone: {readiness_s:.2f} s")
    print(
        f"   launch_sequence: {launch_s:.2f} s (target <= 60 s) for {enrolled:,} enrollments,"
        f" {events:,} events ({events / launch_s:,.0f} events/s, {enrolled / launch_s:,.0f} enrollments/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--leads", type=int, default=3000)
    parser.add_argument("--senders", type=int, default=100, help="at most 100: a sequence takes 100 per channel")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--speed", type=float, default=10.0, help="simulated seconds per real second")
    parser.add_argument("--timeout", type=float, default=300.0, help="real seconds the dispatch part may take")
    parser.add_argument("--profile", type=int, default=300, help="leads dispatched under pyinstrument; 0: none")
    parser.add_argument("--enrollments", type=int, default=100_000)
    parser.add_argument(
        "--no-feed", dest="feed", action="store_false", help="no read-model feed beside the worker while it sends"
    )
    parser.add_argument("--only", choices=("throughput", "schedule"))
    args = parser.parse_args()
    if args.only in (None, "throughput"):
        throughput(args)
    if args.only in (None, "schedule"):
        schedule(args)
    print("3. The policy's cost per call: python bench/policy.py (µs per call of each scheduling function).")


if __name__ == "__main__":
    main()
