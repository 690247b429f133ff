"""What the benchmarks share: a scratch database on the configured or local server, and services on it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from plera.channels.linkedin_sandbox import SandboxServer
from plera.demo import make_ready, sink_senders
from plera.demo_sinks import SmtpSink
from plera.runtime import Services
from plera.settings import Settings

LOCAL = "postgresql://postgres@127.0.0.1:5432/test"


@contextmanager
def scratch_services(*, keep: bool = False, reuse: str | None = None, **settings: object) -> Iterator[Services]:
    """Services on a fresh database of PLERA_DATABASE_URL's server, else the local one.

    The database is dropped afterwards, unless `keep` (then `sv.db.url` names it). `reuse` names a
    database kept by an earlier run, opened as it is and kept: large setups are built once."""
    server = os.environ.get("PLERA_DATABASE_URL") or LOCAL
    name = reuse or f"plera_bench_{uuid.uuid4().hex[:8]}"
    keep = keep or reuse is not None
    if reuse is None:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    params = conninfo_to_dict(server)
    params["dbname"] = name
    url = make_conninfo(**params)
    data_dir = Path(tempfile.mkdtemp())
    sv = Services.open(Settings(database_url=url, data_dir=data_dir, secret_key="bench", **settings))  # type: ignore[arg-type]
    try:
        yield sv
    finally:
        sv.close()
        if not keep:
            with psycopg.connect(server, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def machine_load() -> str:
    """The load averages and core count, to print beside figures that depend on them."""
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def make_ready_on_sinks(sv: Services, workspace_id: uuid.UUID, sequence_id: uuid.UUID) -> None:
    """The Messaging Lab in one call, with senders on local sinks (they are checked when added)."""
    with SmtpSink() as smtp, SandboxServer() as sandbox:
        senders = sink_senders(
            sv, workspace_id, sequence_id, "bench", smtp=(smtp.host, smtp.port), linkedin_base_url=sandbox.base_url
        )
        make_ready(sv, workspace_id, sequence_id, "bench", senders=senders)


@contextmanager
def api_server(sv: Services, processes: int = 1, env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """The API in processes of its own on the benchmark's database: (its URL, the server's pid).
    `env`: more PLERA_* settings for it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = (
        os.environ
        | {
            "PLERA_DATABASE_URL": sv.db.url,
            "PLERA_DATA_DIR": str(sv.settings.data_dir),
            "PLERA_SECRET_KEY": sv.settings.secret_key or "",
        }
        | (env or {})
    )
    command = [sys.executable, "-m", "uvicorn", "plera.api:app_from_environment", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(processes), "--log-level", "warning"]
    server = subprocess.Popen(command, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the API did not start")
        yield url, server.pid
    finally:
        server.terminate()
        server.wait(30)


def cpu_seconds(pid: int) -> float:
    """User and system CPU the process and its children (uvicorn's workers) have used so far."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat.parent.name == str(pid) or fields[1] == str(pid):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")
