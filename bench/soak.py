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
import multiprocessing
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psutil
import psycopg
from common import machine_load, percentile, scratch_services
from pipeline import ProcessPipeline, broker

from plera.aggregates.channels import Condition
from plera.aggregates.enrollment import DONE, LeadEnrollment
from plera.aggregates.lead import SourceGroup
from plera.channels.signatures import signed_headers
from plera.commands.lead_import import parse_json_rows
from plera.commands.runs import CreateRun, create_run
from plera.commands.sender_accounts import AddSenderAccount, add_sender_account, set_sender_status
from plera.commands.sequences import CreateSequence, create_sequence, launch_sequence
from plera.commands.source_groups import CreateSourceGroup, create_source_group, import_leads, mark_enriched
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.consumers.lag import BrokerProbe, measure
from plera.consumers.relay import ensure_topics
from plera.demo import make_ready
from plera.runtime import Services

ACTOR = "soak"
STEPS = [{"channel": "email", "delay_days": 0, "condition": "no_reply"} for _ in range(2)]
DAILY_LIMIT = 10_000  # the most a sender may have
BATCH = 5  # leads per import request
# The API mix: (label, weight); the weights are shares of --api-rps.
MIX = [
    ("GET /v1/sequences/{id}/dashboard", 18),
    ("GET /v1/sequences/{id}/leads", 12),
    ("GET /v1/inbox/threads", 14),
    ("GET /v1/inbox/threads/{id}", 10),
    ("GET /v1/leads/{id}/history", 10),
    ("GET /v1/sequences/{id}", 8),
    ("GET /v1/sequences/{id}/readiness", 2),
    ("GET /v1/sequences/{id}/previews", 3),
    ("GET /readyz", 5),
    ("GET /v1/sender-accounts", 3),
    ("GET /v1/runs", 2),
    ("POST /v1/source-groups/{id}/leads", 3),
    ("POST /v1/enrollments/{id}/pause", 4),
    ("POST /v1/enrollments/{id}/resume", 4),
    ("POST /v1/inbox/threads/{id}/read", 2),
]
FEED = "POST /v1/source-groups/{id}/leads (feed)"
INBOUND = "POST /v1/webhooks/{id}/email/inbound"
MAX_OUTSTANDING = 2000  # requests in flight before the load generator counts new ones as skipped


# --------------------------------------------------------------------------- the window around now


def window_around_now(now: datetime, minutes: float) -> tuple[str, str, str]:
    """(zone, window_start, window_end): an Etc/GMT zone whose local time is now 12:xx, and a window
    from 30 minutes before now to an hour after the run's planned end (set-up and drain included)."""
    offset = 12 - now.hour  # -11..12, hours east of UTC
    zone = "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # the Etc/GMT names count west as positive
    local = now + timedelta(hours=offset)
    start = local - timedelta(minutes=30)
    end = min(local + timedelta(minutes=minutes + 60), local.replace(hour=23, minute=59))
    return zone, f"{start:%H:%M}", f"{end:%H:%M}"


# --------------------------------------------------------------------------- the SMTP sink, a child process


def _serve_sink(conn: Connection, port_out: Connection) -> None:
    """aiosmtpd on 127.0.0.1 keeping (Message-ID, recipient, sender, arrival) of each message; at each
    "poll" it sends what came since the last, until "stop"."""
    from email import policy
    from email.parser import BytesHeaderParser

    from aiosmtpd.controller import Controller

    lock = threading.Lock()
    fresh: list[tuple[str, str, str, float]] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            raw = envelope.original_content or envelope.content
            headers = BytesHeaderParser(policy=policy.default).parsebytes(raw)
            with lock:
                for rcpt in envelope.rcpt_tos:
                    fresh.append((str(headers.get("Message-ID", "")), rcpt, str(envelope.mail_from), time.time()))
            return "250 Message accepted"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, server_hostname="soak-sink", ready_timeout=10)
    controller.start()
    port_out.send(port)
    try:
        while conn.recv() == "poll":
            with lock:
                batch = list(fresh)
                fresh.clear()
            conn.send(batch)
    finally:
        controller.stop()


class Sink:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._conn, theirs = ctx.Pipe()
        port_in, port_out = ctx.Pipe()
        self.process = ctx.Process(target=_serve_sink, args=(theirs, port_out), daemon=True)
        self.process.start()
        self.port: int = port_in.recv()
        self.received: list[tuple[str, str, str, float]] = []
        self._lock = threading.Lock()

    def poll(self) -> list[tuple[str, str, str, float]]:
        with self._lock:
            self._conn.send("poll")
            batch: list[tuple[str, str, str, float]] = self._conn.recv()
            self.received.extend(batch)
            return batch

    def stop(self) -> None:
        with self._lock:
            self._conn.send("stop")
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()


# --------------------------------------------------------------------------- set-up


@dataclass
class World:
    workspace_id: UUID
    api_key: str
    webhook_secret: str
    run_id: UUID
    sequence_id: UUID
    live_group: UUID
    side_group: UUID
    senders: list[UUID]
    zone: str
    window: tuple[str, str]
    held: list[UUID]  # enrollments of the held sequence, which the pauses and resumes take


def set_up(sv: Services, args: argparse.Namespace, sink_port: int) -> World:
    zone, start, end = window_around_now(datetime.now(UTC), args.minutes + args.drain / 60)
    created = create_workspace(
        sv,
        CreateWorkspace(
            name="soak",
            timezone=zone,
            window_start=start,
            window_end=end,
            sending_days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            holiday_countries=[],
        ),
        ACTOR,
    )
    ws = created.workspace.id
    run = create_run(sv, ws, CreateRun(name="soak"), ACTOR).id
    live = create_source_group(sv, ws, run, CreateSourceGroup(name="arrivals"), ACTOR).id
    side = create_source_group(sv, ws, run, CreateSourceGroup(name="later"), ACTOR).id
    mark_enriched(sv, ws, live, ACTOR)
    smtp = {"host": "127.0.0.1", "port": sink_port, "starttls": False}
    senders = [
        add_sender_account(
            sv,
            ws,
            AddSenderAccount.model_validate(
                {
                    "channel": "email",
                    "name": f"Sender {i}",
                    "address": f"sender{i}@plera.example",
                    "daily_limit": DAILY_LIMIT,
                    "smtp": smtp,
                }
            ),
            ACTOR,
        ).id
        for i in range(args.senders)
    ]
    body = {"run_id": run, "name": "soak", "source_group_ids": [live], "steps": STEPS}
    sequence = create_sequence(sv, ws, CreateSequence.model_validate(body), ACTOR)
    make_ready(sv, ws, sequence.id, ACTOR, senders={"email": senders})
    launch_sequence(sv, ws, sequence.id, ACTOR)
    held = held_sequence(sv, ws, run, smtp)
    return World(
        ws, created.api_key, created.webhook_secret, run, sequence.id, live, side, senders, zone, (start, end), held
    )


def held_sequence(sv: Services, ws: UUID, run: UUID, smtp: dict[str, Any], leads: int = 1000) -> list[UUID]:
    """A launched one-step sequence whose only sender is paused: its leads stay enrolled, each with a
    step waiting, for the API mix's per-lead pauses and resumes to take (the launched sequence's
    enrollments are done within seconds, and a finished one refuses a pause)."""
    group = create_source_group(sv, ws, run, CreateSourceGroup(name="held"), ACTOR).id
    rows = [{"email": f"h{i}@held{i}.example", "first_name": f"Held{i}"} for i in range(leads)]
    imported = import_leads(sv, ws, group, parse_json_rows(rows), ACTOR)
    mark_enriched(sv, ws, group, ACTOR)
    sender = add_sender_account(
        sv,
        ws,
        AddSenderAccount.model_validate(
            {"channel": "email", "name": "Held", "address": "held@plera.example", "daily_limit": 100, "smtp": smtp}
        ),
        ACTOR,
    ).id
    body = {"run_id": run, "name": "held", "source_group_ids": [group], "steps": STEPS[:1]}
    sequence = create_sequence(sv, ws, CreateSequence.model_validate(body), ACTOR)
    make_ready(sv, ws, sequence.id, ACTOR, senders={"email": [sender]})
    launch_sequence(sv, ws, sequence.id, ACTOR)
    set_sender_status(sv, ws, sender, paused=True, reason="held", actor=ACTOR)  # before any worker runs
    return [LeadEnrollment.create_id(sequence.id, lead_id) for lead_id in imported.lead_ids]


class Processes:
    """The API and the workers (the relay and the consumer are ProcessPipeline's, as in pipeline.py)."""

    def __init__(self, sv: Services, bootstrap: str, workers: int, api_processes: int) -> None:
        self.env = os.environ | {
            "PLERA_DATABASE_URL": sv.db.url,
            "PLERA_KAFKA_BOOTSTRAP": bootstrap,
            "PLERA_DATA_DIR": str(sv.settings.data_dir),
            "PLERA_SECRET_KEY": str(sv.settings.secret_key),
            "PLERA_CLOCK": "system",
        }
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        plera = str(Path(sys.executable).with_name("plera"))
        api = [sys.executable, "-m", "uvicorn", "plera.api:app_from_environment", "--factory", "--host", "127.0.0.1"]
        api += ["--port", str(self.port), "--log-level", "warning", "--no-access-log"]
        if api_processes > 1:
            api += ["--workers", str(api_processes)]
        self.procs: list[tuple[str, subprocess.Popen[bytes], Path]] = []
        self.api_processes = api_processes
        self._start("api", api)
        for n in range(workers):
            self._start(f"worker{n + 1}" if workers > 1 else "worker", [plera, "worker"])

    def _start(self, name: str, command: list[str]) -> None:
        log = Path(tempfile.mkstemp(prefix=f"plera-soak-{name}-", suffix=".log")[1])
        with open(log, "wb") as out:
            proc = subprocess.Popen(command, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append((name, proc, log))

    def wait_ready(self) -> None:
        for _ in range(600):
            self.check()
            try:
                up = httpx.get(self.url + "/healthz", timeout=1).status_code == 200
                if up and len(self._api_workers()) >= self.api_processes * (self.api_processes > 1):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the API did not start")

    def check(self) -> None:
        for name, proc, log in self.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")

    def pids(self) -> dict[str, int]:
        """Each process's pid; uvicorn's worker processes, when it has some, as api/1, api/2, ..."""
        pids = {name: proc.pid for name, proc, _ in self.procs}
        for n, pid in enumerate(self._api_workers(), start=1):
            pids[f"api/{n}"] = pid
        return pids

    def _api_workers(self) -> list[int]:
        api = next(proc for name, proc, _ in self.procs if name == "api")
        children = psutil.Process(api.pid).children()
        return sorted(c.pid for c in children if "resource_tracker" not in " ".join(c.cmdline()))

    def logs(self) -> dict[str, Path]:
        return {name: log for name, _, log in self.procs}

    def stop(self) -> None:
        for _, proc, _ in self.procs:
            proc.terminate()
        for _, proc, _ in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


# --------------------------------------------------------------------------- what the run records


@dataclass
class PathStats:
    latency: list[float] = field(default_factory=list)  # ms, from the scheduled moment to the answer
    late: list[float] = field(default_factory=list)  # ms, from the scheduled moment to the request's start
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    failures: collections.Counter[str] = field(default_factory=collections.Counter)  # no answer: why


@dataclass
class Recorder:
    paths: dict[str, PathStats] = field(default_factory=lambda: collections.defaultdict(PathStats))
    skipped: int = 0
    five_xx: list[str] = field(default_factory=list)

    def record(self, path: str, scheduled: float, started: float, done: float, status: int | None, why: str) -> None:
        stats = self.paths[path]
        stats.late.append((started - scheduled) * 1000)
        if status is None:
            stats.failures[why] += 1
            return
        stats.latency.append((done - scheduled) * 1000)
        stats.statuses[status] += 1
        if status >= 500 and len(self.five_xx) < 20:
            self.five_xx.append(f"{path}: {status} {why[:300]}")


@dataclass
class Samples:
    lag: list[tuple[float, int, int | None, int]] = field(default_factory=list)  # (t, relay lag, consumer lag, head)
    rss: dict[str, list[tuple[float, int]]] = field(default_factory=lambda: collections.defaultdict(list))


class Monitor:
    """A thread sampling the lag each second and the processes' RSS every 5 s, and polling the sink."""

    def __init__(self, sv: Services, bootstrap: str, pids: dict[str, int], sink: Sink, on_sent: Callable) -> None:
        self.samples = Samples()
        self._sv, self._bootstrap, self._sink, self._on_sent = sv, bootstrap, sink, on_sent
        self._pids = {name: psutil.Process(pid) for name, pid in pids.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def rss_now(self) -> None:
        now = time.monotonic()
        for name, proc in self._pids.items():
            try:
                rss = proc.memory_info().rss
            except psutil.Error:
                continue
            self.samples.rss[name].append((now, rss))

    def _run(self) -> None:
        probe = BrokerProbe(self._bootstrap, ttl=0.5)
        try:
            with psycopg.connect(self._sv.db.url, autocommit=True) as conn:
                next_rss = 0.0
                while True:
                    self._on_sent(self._sink.poll())
                    progress = measure(conn, probe.state())
                    now = time.monotonic()
                    self.samples.lag.append((now, progress.relay_lag or 0, progress.consumer_lag, progress.head))
                    if self._stop.is_set():
                        break  # that was the last sample, after the drain
                    if now >= next_rss:
                        self.rss_now()
                        next_rss = now + 5
                    self._stop.wait(max(0.0, 1.0 - (time.monotonic() - now)))
        except BaseException as e:  # reported by the main thread
            self.error = e
        finally:
            probe.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


# --------------------------------------------------------------------------- traffic


class Traffic:
    """The three open-loop streams: the lead feed, the API mix and inbound mail."""

    def __init__(self, world: World, args: argparse.Namespace, url: str) -> None:
        self.world, self.args, self.url = world, args, url
        self.rec = Recorder()
        self.rng = random.Random(15)
        self.lead_ids: list[UUID] = []  # fed leads, in the launched sequence
        self.addresses: dict[str, UUID] = {}  # lead email → lead id
        self.paused: collections.deque[tuple[float, UUID]] = collections.deque()
        self.threads: list[str] = []
        self.answerable: collections.deque[tuple[str, str, str]] = collections.deque(maxlen=5000)
        self.answered: set[str] = set()  # recipients that got an inbound already
        self.sent_at: list[float] = []  # sink arrivals (wall time)
        self.inbound_kinds: collections.Counter[str] = collections.Counter()
        self.replied: dict[UUID, float] = {}  # lead → when its reply's 202 came (wall time)
        self._n = 0
        self._lock = threading.Lock()

    # ---- what the sink saw (called from the monitor's thread)

    def on_sent(self, batch: list[tuple[str, str, str, float]]) -> None:
        with self._lock:
            for message_id, rcpt, sender, at in batch:
                self.sent_at.append(at)
                if rcpt not in self.answered:
                    self.answerable.append((message_id, rcpt, sender))

    def _answerable(self) -> tuple[str, str, str] | None:
        with self._lock:
            while self.answerable:
                message_id, rcpt, sender = self.answerable.pop()  # the newest: it may race the next step
                if rcpt not in self.answered:
                    self.answered.add(rcpt)
                    return message_id, rcpt, sender
        return None

    def _next(self) -> int:
        self._n += 1
        return self._n

    # ---- requests

    def _lead_rows(self, tag: str) -> list[dict[str, str]]:
        rows = []
        for _ in range(BATCH):
            n = self._next()
            rows.append(
                {"email": f"p{n}@{tag}{n}.example", "first_name": f"Pat{n}", "last_name": "Soak", "company": f"Co {n}"}
            )
        return rows

    async def feed(self, client: httpx.AsyncClient) -> httpx.Response:
        answer = await client.post(
            f"/v1/source-groups/{self.world.live_group}/leads", json={"leads": self._lead_rows("c")}
        )
        if answer.status_code == 200:
            for lead_id in answer.json()["lead_ids"]:
                self.lead_ids.append(UUID(lead_id))
        return answer

    async def mix(self, client: httpx.AsyncClient, label: str) -> httpx.Response | None:
        w, rng = self.world, self.rng
        seq = w.sequence_id
        if label == "GET /v1/sequences/{id}/dashboard":
            return await client.get(f"/v1/sequences/{seq}/dashboard")
        if label == "GET /v1/sequences/{id}/leads":
            params = rng.choice(
                [{}, {"step": 2}, {"status": "active"}, {"status": "stopped"}, {"step": 1, "limit": 100}]
            )
            return await client.get(f"/v1/sequences/{seq}/leads", params=params)
        if label == "GET /v1/inbox/threads":
            params = rng.choice(
                [{}, {"status": "replied"}, {"status": "unread"}, {"status": "ooo"}, {"status": "unmatched"}]
            )
            answer = await client.get("/v1/inbox/threads", params=params)
            if answer.status_code == 200 and params.get("status") != "unmatched":  # those cannot be marked read
                found = [t["id"] for t in answer.json().get("items", [])]
                self.threads = (found + self.threads)[:500]
            return answer
        if label in ("GET /v1/inbox/threads/{id}", "POST /v1/inbox/threads/{id}/read"):
            if not self.threads:
                return None
            thread = rng.choice(self.threads)
            if label.startswith("GET"):
                return await client.get(f"/v1/inbox/threads/{thread}")
            return await client.post(f"/v1/inbox/threads/{thread}/read")
        if label == "GET /v1/leads/{id}/history":
            if not self.lead_ids:
                return None
            return await client.get(f"/v1/leads/{rng.choice(self.lead_ids)}/history")
        if label == "GET /v1/sequences/{id}":
            return await client.get(f"/v1/sequences/{seq}")
        if label == "GET /v1/sequences/{id}/readiness":
            return await client.get(f"/v1/sequences/{seq}/readiness")
        if label == "GET /v1/sequences/{id}/previews":
            return await client.get(f"/v1/sequences/{seq}/previews", params={"limit": 5})
        if label == "GET /readyz":
            return await client.get("/readyz")
        if label == "GET /v1/sender-accounts":
            return await client.get("/v1/sender-accounts", params={"limit": 100})
        if label == "GET /v1/runs":
            return await client.get("/v1/runs", params={"status": "active"})
        if label == "POST /v1/source-groups/{id}/leads":
            return await client.post(f"/v1/source-groups/{w.side_group}/leads", json={"leads": self._lead_rows("s")})
        if label == "POST /v1/enrollments/{id}/pause":
            enrollment = rng.choice(w.held)
            answer = await client.post(f"/v1/enrollments/{enrollment}/pause")
            if answer.status_code == 200:
                self.paused.append((time.monotonic(), enrollment))
            return answer
        if label == "POST /v1/enrollments/{id}/resume":
            if self.paused and time.monotonic() - self.paused[0][0] >= 3:
                enrollment = self.paused.popleft()[1]
            else:
                enrollment = rng.choice(w.held)  # most often a no-op: that lead is not paused
            return await client.post(f"/v1/enrollments/{enrollment}/resume")
        raise ValueError(label)

    async def inbound(self, client: httpx.AsyncClient, n: int) -> httpx.Response:
        kind = ("reply", "reply", "ooo", "stranger")[n % 4]
        target = self._answerable() if kind != "stranger" else None
        if target is None:
            kind = "stranger"
        self.inbound_kinds[kind] += 1
        m = EmailMessage()
        m["Message-ID"] = f"<soak-in-{n}-{uuid.uuid4().hex[:8]}@mail.example>"
        m["Date"] = format_datetime(datetime.now(UTC))
        if target is None:
            m["From"] = f"stranger{n}@else.example"
            m["To"] = "sender0@plera.example"
            m["Subject"] = "A question"
            m.set_content("Hello, who is in charge of purchasing at your place?")
        else:
            message_id, rcpt, sender = target
            m["From"], m["To"] = rcpt, sender
            m["In-Reply-To"] = m["References"] = message_id
            if kind == "ooo":
                m["Subject"] = "Automatic reply: A question"
                m["Auto-Submitted"] = "auto-replied"
                back = datetime.now(UTC) + timedelta(days=14)
                m.set_content(f"I am out of the office until {back:%B} {back.day} with limited access to email.")
            else:
                m["Subject"] = "Re: A question"
                m.set_content("Thanks, let's talk next week.\n\nOn Mon, you wrote:\n> Hi there")
        body = m.as_bytes()
        headers = signed_headers(self.world.webhook_secret, int(time.time()), body) | {"Content-Type": "message/rfc822"}
        answer = await client.post(
            f"/v1/webhooks/{self.world.workspace_id}/email/inbound", content=body, headers=headers
        )
        if kind == "reply" and answer.status_code == 202:
            for lead_id in answer.json().get("lead_ids", []):
                self.replied.setdefault(UUID(lead_id), time.time())
        return answer

    # ---- the open loop

    async def run(self, seconds: float, leads_per_second: float) -> None:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        headers = {"Authorization": f"Bearer {self.world.api_key}"}
        async with httpx.AsyncClient(base_url=self.url, headers=headers, limits=limits, timeout=30) as client:
            loop = asyncio.get_running_loop()
            t0 = loop.time() + 0.1
            end = t0 + seconds
            outstanding: set[asyncio.Task[None]] = set()

            async def fire(label: str, scheduled: float, call: Callable[[], Any]) -> None:
                started = loop.time()
                status, why = None, ""
                try:
                    answer = await call()
                    if answer is None:
                        return
                    status = answer.status_code
                    why = answer.text if status >= 500 else ""
                except httpx.HTTPError as e:
                    why = type(e).__name__
                self.rec.record(label, scheduled, started, loop.time(), status, why)

            async def stream(rate: float, make: Callable[[int, float], None]) -> None:
                if rate <= 0:
                    return
                n = 0
                while (scheduled := t0 + n / rate) < end:
                    pause = scheduled - loop.time()
                    if pause > 0:
                        await asyncio.sleep(pause)
                    make(n, scheduled)
                    n += 1

            def launch(label: str, scheduled: float, call: Callable[[], Any]) -> None:
                if len(outstanding) >= MAX_OUTSTANDING:
                    self.rec.skipped += 1
                    return
                task = asyncio.create_task(fire(label, scheduled, call))
                outstanding.add(task)
                task.add_done_callback(outstanding.discard)

            labels = [label for label, weight in MIX for _ in range(weight)]
            order = random.Random(7)

            def api(n: int, scheduled: float) -> None:
                if n % len(labels) == 0:
                    order.shuffle(labels)  # each hundred requests holds the mix, in a new order
                label = labels[n % len(labels)]
                launch(label, scheduled, lambda: self.mix(client, label))

            def feeding(n: int, scheduled: float) -> None:
                launch(FEED, scheduled, lambda: self.feed(client))

            def mail(n: int, scheduled: float) -> None:
                launch(INBOUND, scheduled, lambda: self.inbound(client, n))

            await asyncio.gather(
                stream(self.args.api_rps, api),
                stream(leads_per_second / BATCH, feeding),
                stream(self.args.inbound_per_second, mail),
            )
            if outstanding:
                await asyncio.wait(outstanding, timeout=60)
            for task in outstanding:
                task.cancel()


# --------------------------------------------------------------------------- the ledger


@dataclass
class Ledger:
    enrollments: int = 0
    at_sink: int = 0
    decided: int = 0
    sent: int = 0
    unknown: int = 0
    failed: int = 0
    duplicates: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    after_reply: list[str] = field(default_factory=list)
    while_paused: list[str] = field(default_factory=list)
    unrecorded: list[str] = field(default_factory=list)
    backlog: int = 0
    replied_leads: int = 0
    stopped_by_reply: int = 0
    paused_at_end: int = 0


def draw_ledger(sv: Services, world: World, received: list[tuple[str, str, str, float]], queued: set[Any]) -> Ledger:
    ledger = Ledger(at_sink=len(received))
    at_sink = collections.Counter(message_id for message_id, *_ in received)
    ledger.duplicates += [f"{mid} arrived {n} times" for mid, n in at_sink.items() if n > 1]
    group = sv.events.get(world.live_group, SourceGroup)
    ids = [LeadEnrollment.create_id(world.sequence_id, lead_id) for lead_id in group.lead_ids]
    decided: dict[str, tuple[UUID, int]] = {}
    outcome: dict[str, str] = {}
    step_ids: dict[tuple[UUID, int], set[str]] = collections.defaultdict(set)
    now = datetime.now(UTC)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        states: dict[UUID, LeadEnrollment] = {}
        for event in sv.events.stored_events(chunk):
            eid = event.originator_id
            before = states.get(eid)
            name = type(event).__name__
            if name == "StepDispatching" and before is not None:
                decided[event.message_id] = (eid, event.step)
                step_ids[(eid, event.step)].add(event.message_id)
                no_reply = before.condition_of(event.step) is Condition.NO_REPLY
                if before.replied_at is not None and no_reply:
                    ledger.after_reply.append(f"{eid} step {event.step} ({event.message_id})")
                if before.paused:
                    ledger.while_paused.append(f"{eid} step {event.step} ({event.message_id})")
            elif name in ("MessageSent", "SendOutcomeUnknown", "StepSendFailed"):
                outcome[event.message_id] = name
            states[eid] = event.mutate(before)
        for eid, e in states.items():
            ledger.enrollments += 1
            ledger.replied_leads += e.replied_at is not None
            ledger.stopped_by_reply += sum(1 for s in e.steps if s["status"] == "skipped" and s["reason"] == "replied")
            ledger.paused_at_end += e.is_open and e.paused
            step = e.next_step
            if step is None or not e.is_open or e.paused:
                continue
            state = e.steps[step - 1]
            if state["status"] == "scheduled" and state["eligible_at"] <= now:
                if (eid, step) in queued:
                    ledger.backlog += 1
                else:
                    ledger.lost.append(
                        f"{eid} step {step}: due since {state['eligible_at']:%H:%M:%S}, not in the queue"
                    )
            elif state["status"] == "pending" and (step == 1 or e.steps[step - 2]["status"] in {s.value for s in DONE}):
                ledger.lost.append(f"{eid} step {step}: pending, never scheduled")
    ledger.decided = len(decided)
    for message_id, (eid, step) in decided.items():
        result = outcome.get(message_id)
        ledger.sent += result == "MessageSent"
        ledger.unknown += result == "SendOutcomeUnknown"
        ledger.failed += result == "StepSendFailed"
        if result == "MessageSent" and message_id not in at_sink:
            ledger.lost.append(f"{eid} step {step}: recorded sent ({message_id}), never at the sink")
        if result is None and message_id not in at_sink:
            ledger.lost.append(f"{eid} step {step}: decided ({message_id}), no outcome and not at the sink")
    for (eid, step), mids in step_ids.items():
        if len([m for m in mids if m in at_sink]) > 1:
            ledger.duplicates.append(f"{eid} step {step} reached the sink under {len(mids)} Message-IDs")
    ledger.unrecorded = [f"{mid}" for mid in at_sink if mid not in decided]
    return ledger


def queued_steps(sv: Services) -> set[tuple[UUID, int]]:
    with sv.db.pool.connection() as conn:
        return {(r[0], r[1]) for r in conn.execute("SELECT enrollment_id, step FROM read.due_queue").fetchall()}


def due_now(sv: Services, sequence_id: UUID) -> tuple[int, int]:
    """(the sequence's rows of the due queue that could be claimed within seconds, claims held)."""
    with sv.db.pool.connection() as conn:
        due = conn.execute(
            "SELECT count(*) FROM read.due_queue"  # a sender's next slot, a second or so away, counts as due
            " WHERE sequence_id = %s AND NOT paused AND coalesce(not_before, eligible_at) <= now() + interval '10 seconds'",
            (sequence_id,),
        ).fetchone()
        held = conn.execute("SELECT count(*) FROM plera_claims").fetchone()
    return int(due[0]) if due else 0, int(held[0]) if held else 0


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
    print(f"  5xx: {total_5xx}" + ("  <- FAILURE" if total_5xx else ""))
    for line in traffic.rec.five_xx[:5]:
        print(f"    {line}")

    first = window[0]
    sends = [t for t in traffic.sent_at if first <= t <= first + seconds]
    buckets = collections.Counter(int((t - first) // 10) for t in sends)
    per_10s = [buckets.get(i, 0) / 10 for i in range(max(1, int(seconds // 10)))]
    print(
        f"\nSends: {len(sends) / seconds:.1f}/s at the sink during the traffic (target {args.sends_per_second});"
        f" per 10 s: min {min(per_10s):.1f}, max {max(per_10s):.1f}/s; leads fed {len(traffic.lead_ids)}"
        f" ({leads_per_second:.1f}/s planned)"
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

    print("\nMemory (RSS; start = traffic start, 1 min = a minute in, end = traffic end):")
    for name, points in samples.rss.items():
        start_t = points[0][0]
        minute = next((r for t, r in points if t - start_t >= 60), points[-1][1])
        end = points[-1][1]
        growth = (end - minute) / max(minute, 1)
        print(
            f"  {name:10} start {mb(points[0][1]):>8}  1 min {mb(minute):>8}  end {mb(end):>8}"
            f"  max {mb(max(r for _, r in points)):>8}  (end vs 1 min: {growth:+.0%})"
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
                if monitor.error:
                    print(f"  (the monitor stopped early: {monitor.error!r})")
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
    return f"NOT drained after {limit:.0f} s: {due} steps due, {held} claims held"


def _print_tracebacks(logs: dict[str, Path]) -> None:
    for name, log in logs.items():
        text = log.read_text(errors="replace")
        if "Traceback" in text:
            first = text[text.index("Traceback") :][:3000]
            print(f"\n{name} logged tracebacks ({text.count('Traceback')}); the first:\n{first}")
            print(f"  (the whole log: {log})")
        else:
            log.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
