"""What the benchmarks share: a scratch database on the configured or local server, and services on it."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
