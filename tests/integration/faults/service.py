"""`plera up` on a database of the test's own, as a real process, and a small launched campaign in it.

The fault tests break what the service stands on (its database, its broker) while it runs, so the
service runs as the product does: its API, worker and read-model feed in one process, driven by
the simulated clock kept in that database.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO
from uuid import UUID

from plera.clock import SimulatedClock
from plera.commands.lead_import import parse_json_rows
from plera.commands.runs import CreateRun, create_run
from plera.commands.sender_accounts import AddSenderAccount, add_sender_account
from plera.commands.sequences import CreateSequence, create_sequence, launch_sequence
from plera.commands.source_groups import CreateSourceGroup, create_source_group, import_leads, mark_enriched
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.consumers.inprocess import InProcessFeed
from plera.demo import make_ready
from plera.projections.all import ALL
from plera.runtime import Services
from plera.settings import Settings
from tests.fakes.smtp_server import FakeSmtp

ACTOR = "fault-test"
MONDAY_0800_BERLIN = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)
TWO_EMAILS = [
    {"channel": "email", "delay_days": 0, "condition": "always"},
    {"channel": "email", "delay_days": 1, "condition": "no_reply"},
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLERA_")}
    env.update(
        PLERA_DATABASE_URL=database_url,
        PLERA_DATA_DIR=str(data_dir),
        PLERA_SECRET_KEY="test-key",
        PLERA_CLOCK="simulated",
        **extra,
    )
    return env


def plera(*args: str, env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "plera.cli", *args], env=env, stdout=log, stderr=subprocess.STDOUT)


@dataclass
class Campaign:
    """A launched two-email sequence to `leads` people, through `senders` accounts on one SMTP sink."""

    sv: Services
    smtp: FakeSmtp
    workspace_id: UUID
    sequence_id: UUID
    group_id: UUID
    run_id: UUID
    lead_ids: list[UUID] = field(default_factory=list)

    @classmethod
    def launch(cls, sv: Services, smtp: FakeSmtp, *, leads: int, senders: int) -> Campaign:
        SimulatedClock(sv.db.pool, MONDAY_0800_BERLIN).set(MONDAY_0800_BERLIN)
        ws = create_workspace(sv, CreateWorkspace(name="Faults", timezone="Europe/Berlin"), ACTOR).workspace.id
        run = create_run(sv, ws, CreateRun(name="Q2"), ACTOR)
        group = create_source_group(sv, ws, run.id, CreateSourceGroup(name="Leads"), ACTOR)
        accounts = [
            add_sender_account(
                sv,
                ws,
                AddSenderAccount.model_validate(
                    {
                        "channel": "email",
                        "name": f"Sender {n}",
                        "address": f"sender{n}@plera.example",
                        "daily_limit": 2000,
                        "smtp": {"host": smtp.host, "port": smtp.port, "starttls": False},
                    }
                ),
                ACTOR,
            ).id
            for n in range(senders)
        ]
        rows = [
            {"first_name": f"Lead{n}", "email": f"lead{n}@acme{n % 7}.example", "timezone": "Europe/Berlin"}
            for n in range(leads)
        ]
        imported = import_leads(sv, ws, group.id, parse_json_rows(rows), ACTOR)
        mark_enriched(sv, ws, group.id, ACTOR)
        body = {"run_id": run.id, "name": "Faults", "source_group_ids": [group.id], "steps": TWO_EMAILS}
        sequence = create_sequence(sv, ws, CreateSequence.model_validate(body), ACTOR)
        InProcessFeed(sv, ALL).catch_up()  # readiness counts the group's leads from the read models
        make_ready(sv, ws, sequence.id, ACTOR, senders={"email": accounts})
        launch_sequence(sv, ws, sequence.id, ACTOR)
        return cls(sv, smtp, ws, sequence.id, group.id, run.id, list(imported.lead_ids))


class ClockDriver:
    """Moves the shared simulated clock forward in small steps, as the day passes, until stopped."""

    def __init__(self, sv: Services, step: timedelta = timedelta(minutes=1), every: float = 0.1) -> None:
        self._clock = SimulatedClock(sv.db.pool)
        self._step, self._every = step, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                self._clock.advance(self._step)
            except Exception:  # the database may be down for a moment: the day waits for it
                time.sleep(0.2)

    def __enter__(self) -> ClockDriver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def settled(count: Callable[[], int], quiet: float = 3.0, timeout: float = 120.0) -> int:
    """Waits until `count` has not changed for `quiet` seconds; returns it."""
    deadline = time.monotonic() + timeout
    last, since = count(), time.monotonic()
    while time.monotonic() - since < quiet:
        assert time.monotonic() < deadline, "the count never settled"
        time.sleep(0.3)
        now = count()
        if now != last:
            last, since = now, time.monotonic()
    return last


def open_services(database_url: str, data_dir: Path) -> Services:
    return Services.open(
        Settings(database_url=database_url, data_dir=data_dir, secret_key="test-key", clock="simulated")
    )
