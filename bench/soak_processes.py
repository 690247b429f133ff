"""The soak's processes: the SMTP sink, the API and the workers, and the monitor that samples them."""

from __future__ import annotations

import collections
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
import psutil
import psycopg

from plera.consumers.lag import BrokerProbe, measure
from plera.runtime import Services

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
                try:
                    tail = log.read_text(errors="replace")[-3000:]
                except OSError:
                    tail = "(no log)"
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

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


@dataclass
class Samples:
    lag: list[tuple[float, int, int | None, int]] = field(default_factory=list)  # (t, relay lag, consumer lag, head)
    # (t, RSS, anonymous resident memory): the heap's share, what a leak grows. RSS also counts the pages
    # of mapped files (code, libraries), which the kernel may drop and fetch again under pressure.
    rss: dict[str, list[tuple[float, int, int]]] = field(default_factory=lambda: collections.defaultdict(list))
    cpu: dict[str, list[tuple[float, float]]] = field(
        default_factory=lambda: collections.defaultdict(list)
    )  # (t, CPU s)


class Monitor:
    """A thread sampling the lag each second and the processes' RSS every 5 s, and polling the sink."""

    def __init__(self, sv: Services, bootstrap: str, pids: dict[str, int], sink: Sink, on_sent: Callable) -> None:
        self.samples = Samples()
        self._sv, self._bootstrap, self._sink, self._on_sent = sv, bootstrap, sink, on_sent
        self._pids = {name: psutil.Process(pid) for name, pid in pids.items()}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.error: BaseException | None = None
        self.missed: list[str] = []  # lag samples the database refused

    def start(self) -> None:
        self._thread.start()

    def rss_now(self) -> None:
        now = time.monotonic()
        for name, proc in self._pids.items():
            try:
                rss = proc.memory_info().rss
                status = Path(f"/proc/{proc.pid}/status").read_text()
            except (psutil.Error, OSError):
                continue
            anon = next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("RssAnon:")), 0)
            self.samples.rss[name].append((now, rss, anon))
            try:
                times = proc.cpu_times()
            except psutil.Error:
                continue
            self.samples.cpu[name].append((now, times.user + times.system))

    def _run(self) -> None:
        """Until stopped, and once more after: a sample that misses the database (a shared server may
        refuse a connection when full) is counted and the next one connects again."""
        probe = BrokerProbe(self._bootstrap, ttl=0.5)
        conn: psycopg.Connection[Any] | None = None
        next_rss = 0.0
        try:
            while True:
                self._on_sent(self._sink.poll())
                now = time.monotonic()
                try:
                    conn = conn or psycopg.connect(self._sv.db.url, autocommit=True)
                    progress = measure(conn, probe.state())
                    self.samples.lag.append((now, progress.relay_lag or 0, progress.consumer_lag, progress.head))
                except psycopg.Error as e:
                    self.missed.append(f"{type(e).__name__}: {str(e).strip()[:200]}")
                    if conn is not None:
                        conn.close()
                    conn = None
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
            if conn is not None:
                conn.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
