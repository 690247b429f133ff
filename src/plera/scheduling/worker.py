"""The worker: APScheduler ticks that call the send protocol's commands.

APScheduler only ticks, on wall time; every decision is the commands' and reads plera.clock, so a
simulated clock drives it all. Several workers may run at once: they coordinate through the
database (claims with leases, locked counter rows), never through APScheduler's job store, which
stays in memory.

Jobs are coalesced (a missed tick is the same as one tick: "dispatch what is due" has no backlog
of its own) and never overlap themselves (max_instances=1); a late tick still runs
(misfire_grace_time=None), since skipping one only delays sends. A failure (the database or the
broker away) is logged and the job backs off, doubling up to 30 s; the scheduler thread goes on.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID, uuid4

from apscheduler.schedulers.background import BackgroundScheduler

from plera.commands.away import wake_returned
from plera.commands.claims import claim_due
from plera.commands.dispatch import dispatch_all
from plera.commands.failover import reassign_stranded
from plera.commands.import_jobs import run_import_jobs
from plera.commands.outbox import Outbox
from plera.commands.recovery import recover_expired
from plera.runtime import Services

log = logging.getLogger(__name__)

MAX_BACKOFF = 30.0


class Worker:
    def __init__(
        self,
        sv: Services,
        *,
        name: str | None = None,
        batch: int = 50,
        concurrency: int = 16,  # senders at once: a decided message waits at most batch ÷ concurrency rounds of sends
        tick: float = 1.0,
        tick_budget: float = 5.0,
        workspace_id: UUID | None = None,
    ) -> None:
        self.sv = sv
        self.workspace_id = workspace_id  # None: every workspace
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid4().hex[:6]}"
        self.batch = batch
        self.tick = tick
        self.tick_budget = tick_budget  # seconds one dispatch tick may keep claiming
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="plera-dispatch")
        # Sends side by side, up to `concurrency` senders at a time (the pool makes LinkedIn's calls).
        self._outbox = Outbox(sv, concurrency=concurrency, executor=self._pool)
        self._scheduler: BackgroundScheduler | None = None
        self._backoff: dict[str, tuple[float, float]] = {}  # job → (resume at, current backoff)
        self._lock = threading.Lock()
        self._stopping = threading.Event()  # a long job (an import) stops between its batches
        self._importer: threading.Thread | None = None
        self.outcomes: dict[str, int] = {}

    # ---- the jobs

    def dispatch_due(self) -> int:
        """Claims and dispatches due steps until none is due or the tick's budget is spent."""
        deadline = time.monotonic() + self.tick_budget
        done = 0
        try:
            while time.monotonic() < deadline:
                claims = claim_due(self.sv, self.name, limit=self.batch, workspace_id=self.workspace_id)
                if not claims:
                    break
                self._count(dispatch_all(self.sv, claims, self._outbox))
                done += len(claims)
        finally:
            self._outbox.close()  # a sender's next send is a slot away, often minutes: no connection idles that long
        return done

    def _count(self, outcomes: list[str]) -> None:
        with self._lock:
            for outcome in outcomes:
                self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def recover(self) -> int:
        return recover_expired(self.sv)

    def wake(self) -> int:
        """Leads back from an out-of-office pause go on."""
        return wake_returned(self.sv, workspace_id=self.workspace_id)

    def fail_over(self) -> int:
        """Due steps stranded on a stopped sender move to another sender once their wait is over."""
        return reassign_stranded(self.sv, workspace_id=self.workspace_id)

    def import_leads(self) -> int:
        """Runs the import jobs waiting, and those whose worker stopped (commands/import_jobs.py)."""
        return run_import_jobs(self.sv, self.name, self._stopping)

    def rollover(self) -> int:
        """A new day: rows held back by a full limit come due again from their window, in eligible-time
        order (their not_before passes; the claim orders by eligible time), and counters older than the
        7-day invite window go."""
        with self.sv.db.pool.connection() as conn:
            dropped = conn.execute(
                "DELETE FROM plera_sender_days WHERE day < %s::date - 8", (self.sv.clock.now().date(),)
            ).rowcount
            conn.execute("DELETE FROM plera_sequence_days WHERE day < %s::date - 8", (self.sv.clock.now().date(),))
        return dropped

    # ---- running

    def _guarded(self, name: str, job: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            resume_at, backoff = self._backoff.get(name, (0.0, 0.0))
            if time.monotonic() < resume_at:
                return
            try:
                job()
                self._backoff.pop(name, None)
            except Exception as error:  # noqa: BLE001 - an outage must not end the scheduler thread
                backoff = min(max(backoff * 2, 1.0), MAX_BACKOFF)
                self._backoff[name] = (time.monotonic() + backoff, backoff)
                log.warning("worker %s: %s failed (%s); backing off %.0fs", self.name, name, error, backoff)

        return run

    def start(self) -> None:
        scheduler = BackgroundScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}, timezone="UTC"
        )
        scheduler.add_job(self._guarded("dispatch", self.dispatch_due), "interval", seconds=self.tick, id="dispatch")
        scheduler.add_job(self._guarded("recover", self.recover), "interval", seconds=15, id="recover")
        scheduler.add_job(self._guarded("rollover", self.rollover), "interval", minutes=10, id="rollover")
        scheduler.add_job(self._guarded("wake", self.wake), "interval", seconds=30, id="wake")
        scheduler.add_job(self._guarded("fail_over", self.fail_over), "interval", seconds=60, id="fail_over")
        scheduler.start()
        self._scheduler = scheduler
        # An import runs for minutes: in a thread of its own, not as a tick that would skip its next ones.
        self._importer = threading.Thread(target=self._import_loop, name="plera-imports", daemon=True)
        self._importer.start()
        log.info("worker %s started", self.name)

    def _import_loop(self) -> None:
        backoff = 0.0
        while not self._stopping.wait(backoff or self.tick):
            try:
                self.import_leads()
                backoff = 0.0
            except Exception as error:  # noqa: BLE001 - an outage must not end the thread
                backoff = min(max(backoff * 2, 1.0), MAX_BACKOFF)
                log.warning("worker %s: imports failed (%s); backing off %.0fs", self.name, error, backoff)

    def stop(self) -> None:
        self._stopping.set()  # an import stops after its batch under way, and gives its job back
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=True)
            self._scheduler = None
        if self._importer is not None:
            self._importer.join()
            self._importer = None
        self._outbox.close()
        self._pool.shutdown(wait=True)
