"""The soak's traffic: three open-loop streams (the lead feed, the API mix, inbound mail) and their latencies."""

from __future__ import annotations

import argparse
import asyncio
import collections
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from uuid import UUID

import httpx
from soak_world import World

from plera.channels.signatures import signed_headers

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
        self.feed_retries = 0  # imports into the live group retried after a 409 conflict
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
        """An import into the launched sequence's group. Imports into one group at once may conflict
        (409 `conflict`: "retry"), and a client retries them, up to 3 times here; the latency is the whole."""
        rows = self._lead_rows("c")
        for _ in range(4):
            answer = await client.post(f"/v1/source-groups/{self.world.live_group}/leads", json={"leads": rows})
            if answer.status_code != 409:
                break
            self.feed_retries += 1
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
