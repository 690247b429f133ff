"""The soak: the API, the worker, the relay and the consumer, and inbound webhooks, together, at a steady
rate for --minutes (10), as real processes in Kafka mode. Then the ledger: every decided send against
what the SMTP sink received.

Run: python bench/soak.py [--minutes 10] [--api-rps 100] [--sends-per-second 50] [--inbound-per-second 20]
                          [--senders 100] [--workers 1] [--api-processes 2] [--drain 120]
                          [--bootstrap HOST:PORT]
     (PLERA_KAFKA_BOOTSTRAP or --bootstrap names the broker, else infra/kafka_broker.py starts a fresh
      one; PLERA_DATABASE_URL's server, else the local PostgreSQL, gets a scratch database, dropped at
      the end. Every connection is to 127.0.0.1 or that server. A short run: --minutes 1.)

Processes, as a Kafka deployment runs them, with PLERA_DATABASE_URL, PLERA_KAFKA_BOOTSTRAP and
PLERA_CLOCK=system: the API (uvicorn serving plera.api:app_from_environment, --api-processes worker
processes), `plera worker` (--workers of them), `plera relay`, `plera consume`; an SMTP sink (aiosmtpd, a child process) that
every sender points at and that records each message's Message-ID, recipient and arrival; the broker;
and this process, which sets up, drives the traffic and checks.

The clock. The system clock, as in production; the window is opened around now instead. The
workspace's zone is the Etc/GMT zone whose local time is now 12:xx, its window runs from 30 minutes
before now to an hour after the planned end, on every day of the week with no holidays, and the
leads carry no place, so they are in the workspace's zone. (A simulated clock would stand still
unless moved, and every process would read it from the database on each decision: not production.)
A sender's spacing is the window's length / daily_limit (10,000, the most allowed), about 0.6 s for a
1-minute run; the ceiling, senders / spacing, is printed: it stays well above the send rate, so the
rate is the arrivals', not the limits'.

Set-up (commands, in this process): a workspace, --senders email senders (daily_limit 10,000, SMTP to
the sink), a launched two-step email sequence (delays 0 and 0, both no_reply: step 2 is due as soon
as step 1 went out, one sender's slot later, so replies race it) on an enriched, empty source group;
a second group that no sequence reads; and a held sequence: 1,000 leads enrolled, whose only sender
is paused, so each keeps a step waiting (the launched sequence's leads are done within seconds, and
a finished enrollment refuses a pause). Then, all open-loop (each request has its scheduled
moment; latency is measured from that moment to the answer, so a slow server cannot slow the
load down and hide its own slowness; "late" is how far behind schedule requests started):
- sends: leads arrive through POST /v1/source-groups/{id}/leads, 5 a request, into the launched
  sequence's group (they are enrolled at once), at (sends/s + the step 2s that replies to step 1 are
  expected to stop) / 2 leads a second: each lead makes two sends, less those stopped;
- the API mix, --api-rps requests a second (weights in MIX): dashboard, drill-down, inbox list and
  thread, lead history, sequence, readiness, previews, readyz, senders, runs; writes: imports of 5
  leads into the second group, per-lead pauses and (3 s or more later) resumes of the held
  sequence's enrollments, marking a thread read;
- inbound, --inbound-per-second signed webhooks: half replies (From the lead, In-Reply-To the
  newest message at the sink whose lead had no answer yet), a quarter out-of-office auto-replies to
  such messages, a quarter mail from strangers.
Sampled each second: the lag (event store head - relay position; the consumer group's lag: end
offsets - stored positions), from what /readyz reads; the RSS of each process (psutil) every 5 s.

At the end: traffic stops, the pipeline and the due queue drain (at most --drain s), the processes stop,
and the ledger is drawn from the event store (every enrollment of the launched sequence, event by
event) and the sink:
- duplicates: a Message-ID at the sink more than once, or one step of one lead at the sink under
  two Message-IDs;
- lost: a send recorded sent (MessageSent) that the sink never got; a decided send (StepDispatching)
  with no outcome and not at the sink; a step due (scheduled, eligible, lead open and not paused)
  that is not in the due queue, or a next step never scheduled;
- sent after a reply / while paused: a StepDispatching of a no_reply step after the enrollment's
  ReplyDetected, or while it was paused (in the enrollment's own order of events);
- unrecorded: a message at the sink that no StepDispatching decided.
Unknown outcomes (SendOutcomeUnknown) and failures are counted, as shown rather than lost. Steps
still queued when the drain timed out are the backlog: late, not lost.
Exit status 1 when anything above but unknown outcomes, or any 5xx, is not 0.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import math
import os
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import psycopg
from common import machine_load, percentile, scratch_services
from pipeline import ProcessPipeline, broker
from soak_ledger import Ledger, draw_ledger, due_now, queued_steps
from soak_processes import Monitor, Processes, Samples, Sink
from soak_traffic import FEED, INBOUND, MAX_OUTSTANDING, Traffic
from soak_world import DAILY_LIMIT, World, set_up

from plera.consumers.relay import ensure_topics
from plera.runtime import Services

# --------------------------------------------------------------------------- the report


def mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"


def report(
    args: argparse.Namespace,
    world: World,
    traffic: Traffic,
    samples: Samples,
    seconds: float,
    window: tuple[float, float],
    mono: tuple[float, float],
    ledger: Ledger,
    drained: str,
    leads_per_second: float,
) -> int:
    print(f"\nSoak: {seconds / 60:.1f} min of traffic; {machine_load()} at the end")
    print(
        f"  workspace zone {world.zone}, window {world.window[0]}-{world.window[1]} local, {len(world.senders)}"
        f" senders at daily_limit {DAILY_LIMIT:,}"
    )
    print("\nLatency by path, ms from the scheduled moment to the answer (open loop):")
    print(f"  {'path':50} {'n':>6} {'p50':>8} {'p99':>8} {'max':>8}  statuses")
    total_5xx = 0
    for path, stats in sorted(traffic.rec.paths.items()):
        lat = stats.latency or [math.nan]
        statuses = " ".join(f"{code}:{n}" for code, n in sorted(stats.statuses.items()))
        failures = " ".join(f"{why}:{n}" for why, n in stats.failures.items())
        total_5xx += sum(n for code, n in stats.statuses.items() if code >= 500)
        print(
            f"  {path:50} {len(stats.latency):6} {percentile(lat, 50):8.1f} {percentile(lat, 99):8.1f}"
            f" {max(lat):8.1f}  {statuses} {failures}".rstrip()
        )
    late = [x for s in traffic.rec.paths.values() for x in s.late]
    if late:
        print(
            f"  requests started late against their schedule: p50 {percentile(late, 50):.1f} ms,"
            f" p99 {percentile(late, 99):.1f} ms; skipped (over {MAX_OUTSTANDING} in flight): {traffic.rec.skipped}"
        )
    requests = sum(len(s.latency) for p, s in traffic.rec.paths.items() if p not in (FEED, INBOUND))
    print(f"  API mix: {requests / seconds:.1f} requests/s answered (target {args.api_rps})")
    unanswered = sum(sum(s.failures.values()) for s in traffic.rec.paths.values())
    print(
        f"  5xx: {total_5xx}" + ("  <- FAILURE" if total_5xx else "") + f"; no answer (the connection failed or timed"
        f" out, client side): {unanswered}"
    )
    for line in traffic.rec.five_xx[:5]:
        print(f"    {line}")

    first = window[0]
    sends = [t for t in traffic.sent_at if first <= t <= first + seconds]
    buckets = collections.Counter(int((t - first) // 10) for t in sends)
    per_10s = [buckets.get(i, 0) / 10 for i in range(max(1, int(seconds // 10)))]
    print(
        f"\nSends: {len(sends) / seconds:.1f}/s at the sink during the traffic (target {args.sends_per_second});"
        f" per 10 s: min {min(per_10s):.1f}, max {max(per_10s):.1f}/s; leads fed {len(traffic.lead_ids)}"
        f" ({leads_per_second:.1f}/s planned; {traffic.feed_retries} imports retried after a 409 conflict)"
    )
    if len(traffic.sent_at) > 1:
        span = max(traffic.sent_at) - min(traffic.sent_at)
        print(
            f"  all {len(traffic.sent_at)} sends, from the first to the last, took {span:.0f} s:"
            f" {len(traffic.sent_at) / max(span, 1):.1f}/s (the feed's imports came late when the API was)"
        )
    print(
        f"Inbound: {dict(traffic.inbound_kinds)}; {len(traffic.replied)} leads replied"
        f" ({args.inbound_per_second}/s planned)"
    )

    during = [(r, c) for t, r, c, _ in samples.lag if mono[0] <= t <= mono[1]] or [(0, 0)]
    relay = [r for r, _ in during]
    consumer = [c for _, c in during if c is not None] or [0]
    at_end = during[-1]
    drained_lag = (samples.lag[-1][1], samples.lag[-1][2]) if samples.lag else (0, 0)
    print(
        f"\nLag, events (sampled each second, {len(during)} samples during the traffic):"
        f" relay (head - position) p50 {percentile(relay, 50)}, max {max(relay)}, at the traffic's end {at_end[0]};"
        f" consumer p50 {percentile(consumer, 50)}, max {max(consumer)}, at the traffic's end {at_end[1]};"
        f" after the drain: relay {drained_lag[0]}, consumer {drained_lag[1]}"
    )
    if samples.lag:
        head_rate = (samples.lag[-1][3] - samples.lag[0][3]) / max(samples.lag[-1][0] - samples.lag[0][0], 1)
        print(f"  (the event store grew {head_rate:.0f} events/s)")

    print(
        "\nMemory: RSS at the traffic's start and end; anonymous (the heap: what a leak grows) at the start,"
        " a minute in (warm) and the end, and the change from a minute in to the end; CPU, in cores, over the traffic:"
    )
    for name, all_points in samples.rss.items():
        points = [p for p in all_points if p[0] <= mono[1] + 1] or all_points
        start, end = points[0], points[-1]
        warm = next((p for p in points if p[0] - start[0] >= 60), end)
        growth = (end[2] - warm[2]) / max(warm[2], 1)
        cpu = [c for c in samples.cpu.get(name, []) if c[0] <= mono[1] + 1]
        cores = (cpu[-1][1] - cpu[0][1]) / max(cpu[-1][0] - cpu[0][0], 1) if len(cpu) > 1 else math.nan
        print(
            f"  {name:8} RSS {mb(start[1]):>7} -> {mb(end[1]):>7}   anonymous {mb(start[2]):>7}, {mb(warm[2]):>7}"
            f" -> {mb(end[2]):>7} ({growth:+.0%}; max {mb(max(p[2] for p in points))})   CPU {cores:.2f}"
        )

    api_cpu = 0.0
    for name, points in samples.cpu.items():
        during = [c for t, c in points if t <= mono[1] + 1]
        if name.startswith("api") and len(during) > 1:
            api_cpu += during[-1] - during[0]
    answered = sum(len(s.latency) for s in traffic.rec.paths.values())
    print(
        f"  the API processes spent {api_cpu / max(answered, 1) * 1000:.1f} ms of CPU per answered request"
        f" ({answered} answers): one core of their own would answer about {answered / max(api_cpu, 1e-9):,.0f}/s"
    )

    print(f"\nLedger ({drained}):")
    print(
        f"  enrollments {ledger.enrollments}; sends decided {ledger.decided}: sent {ledger.sent}, unknown outcome"
        f" {ledger.unknown}, failed {ledger.failed}; at the sink {ledger.at_sink}"
    )
    print(
        f"  leads replied {ledger.replied_leads}, steps stopped by a reply {ledger.stopped_by_reply},"
        f" paused at the end {ledger.paused_at_end}, still queued (late, not lost) {ledger.backlog}"
    )
    failures = 0
    for title, items in (
        ("duplicates", ledger.duplicates),
        ("lost due steps", ledger.lost),
        ("sent after a reply", ledger.after_reply),
        ("sent while paused", ledger.while_paused),
        ("at the sink, never decided", ledger.unrecorded),
    ):
        failures += len(items)
        print(f"  {title}: {len(items)}" + ("  <- FAILURE" if items else ""))
        for item in items[:5]:
            print(f"    {item}")
    return 1 if failures or total_5xx else 0


# --------------------------------------------------------------------------- main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--api-rps", type=float, default=100.0)
    parser.add_argument("--sends-per-second", type=float, default=50.0)
    parser.add_argument("--inbound-per-second", type=float, default=20.0)
    parser.add_argument("--senders", type=int, default=100, help="at most 100: a sequence takes 100 per channel")
    parser.add_argument("--workers", type=int, default=1, help="`plera worker` processes")
    parser.add_argument("--api-processes", type=int, default=2, help="uvicorn worker processes serving the API")
    parser.add_argument(
        "--drain", type=float, default=120.0, help="seconds the queue and the pipeline may take to drain"
    )
    parser.add_argument("--bootstrap", default=os.environ.get("PLERA_KAFKA_BOOTSTRAP"))
    args = parser.parse_args()
    seconds = args.minutes * 60
    # Each lead makes two sends, less its step 2 when a reply or an auto-reply to its step 1 stops it
    # first: of the inbound, three quarters answer a sent message, about half of them a step 1.
    stops = args.inbound_per_second * 0.75 * 0.5
    leads_per_second = (args.sends_per_second + stops) / 2

    print(f"soak: setting up ({machine_load()})", flush=True)
    started, bootstrap = broker(args.bootstrap)
    sink = Sink()
    status = 1
    try:
        ensure_topics(bootstrap)
        with scratch_services() as sv:
            world = set_up(sv, args, sink.port)
            pipeline = ProcessPipeline(sv, bootstrap)
            pipeline.start()
            procs = Processes(sv, bootstrap, args.workers, args.api_processes)
            try:
                procs.wait_ready()
                pipeline.catch_up(timeout=120)
                gap = _gap_seconds(world.window)
                print(
                    f"  zone {world.zone}, window {world.window[0]}-{world.window[1]}: spacing {gap:.2f} s a sender,"
                    f" ceiling {len(world.senders) / gap:,.0f} sends/s; feeding {leads_per_second:.1f} leads/s",
                    flush=True,
                )
                pids = pipeline.pids() | procs.pids() | {"sink": sink.process.pid or 0, "bench": os.getpid()}
                pids = {name.removeprefix("plera "): pid for name, pid in pids.items()}
                if started:
                    pids["broker"] = started[1].pid
                traffic = Traffic(world, args, procs.url)
                monitor = Monitor(sv, bootstrap, pids, sink, traffic.on_sent)
                monitor.rss_now()
                monitor.start()
                print(f"soak: {args.minutes:g} min of traffic from {datetime.now(UTC):%H:%M:%S} UTC", flush=True)
                first, mono_first = time.time(), time.monotonic()
                watching = threading.Event()
                threading.Thread(target=_watch, args=(procs, watching), daemon=True).start()
                asyncio.run(traffic.run(seconds, leads_per_second))
                last, mono_last = time.time(), time.monotonic()
                monitor.rss_now()
                drained = _drain(sv, pipeline, world.sequence_id, args.drain)
                watching.set()
                monitor.stop()
                # The API and the workers stop, then the read models catch up: the due queue the ledger
                # reads is then the one the last events made, and no send can come after the sink's last read.
                procs.stop()
                try:
                    pipeline.catch_up(timeout=120)
                except (TimeoutError, RuntimeError, psycopg.Error) as e:
                    drained += f"; the read models did not catch up at the end ({type(e).__name__})"
                traffic.on_sent(sink.poll())  # the last arrivals, whatever became of the monitor
                if monitor.error:
                    print(f"  (the monitor stopped early: {monitor.error!r})")
                if monitor.missed:
                    print(f"  ({len(monitor.missed)} lag samples missed; the first: {monitor.missed[0]})")
                queued = queued_steps(sv)
            finally:
                procs.stop()
                _print_tracebacks({command: log for command, _, log in pipeline._procs} | procs.logs())
                pipeline.stop()
            ledger = draw_ledger(sv, world, sink.received, queued)
            status = report(
                args,
                world,
                traffic,
                monitor.samples,
                seconds,
                (first, last),
                (mono_first, mono_last),
                ledger,
                drained,
                leads_per_second,
            )
    finally:
        sink.stop()
        if started:
            module, proc = started
            module.stop_broker(proc)
    sys.exit(status)


def _gap_seconds(window: tuple[str, str]) -> float:
    (h1, m1), (h2, m2) = (map(int, w.split(":")) for w in window)
    return ((h2 * 60 + m2) - (h1 * 60 + m1)) * 60 / DAILY_LIMIT


def _watch(procs: Processes, stop: threading.Event) -> None:
    """Says so at once when a process dies during the run (the run goes on, and the ledger shows it)."""
    while not stop.wait(1):
        try:
            procs.check()
        except RuntimeError as e:
            print(f"soak: {e}", flush=True)
            return


def _drain(sv: Services, pipeline: ProcessPipeline, sequence_id: UUID, limit: float) -> str:
    """Waits until the pipeline caught up and nothing is due or claimed, at most `limit` seconds."""
    t = time.monotonic()
    try:
        while time.monotonic() - t < limit:
            try:
                pipeline.catch_up(timeout=max(1.0, limit - (time.monotonic() - t)))
            except TimeoutError:
                break
            due, held = due_now(sv, sequence_id)
            if not due and not held:
                return f"drained in {time.monotonic() - t:.0f} s"
            time.sleep(0.5)
        due, held = due_now(sv, sequence_id)
    except (psycopg.Error, RuntimeError) as e:  # the database went away, or a process died
        return f"NOT drained: {type(e).__name__}: {str(e).strip()[:300]}"
    return f"NOT drained after {limit:.0f} s: {due} steps due, {held} claims held"


def _print_tracebacks(logs: dict[str, Path]) -> None:
    """Each process's logged tracebacks, counted by their last line, and the first of each kind. A client
    gone before its request was read (starlette's ClientDisconnect: the load generator timed out) is
    counted only."""
    for name, log in logs.items():
        text = log.read_text(errors="replace")
        tracebacks = text.split("Traceback (most recent call last):")[1:]
        if not tracebacks:
            log.unlink(missing_ok=True)
            continue
        kinds: dict[str, list[str]] = collections.defaultdict(list)
        for t in tracebacks:
            lines = [line for line in t.splitlines() if line.strip() and not line.startswith(" ")]
            kinds[lines[0] if lines else "?"].append(t)
        print(f"\n{name} logged {len(tracebacks)} tracebacks (the whole log: {log}):")
        for kind, found in kinds.items():
            print(f"  {len(found)} x {kind[:200]}")
            if "ClientDisconnect" not in kind:
                own = [line for line in found[0].splitlines() if "/src/plera/" in line or not line.startswith("  ")]
                print("    " + "\n    ".join(own[-12:]))


if __name__ == "__main__":
    main()
