"""A small world for the sending engine: a workspace in Berlin, senders on the fake SMTP server and the
LinkedIn sandbox, a launched sequence, and a clock the test moves. The worker runs its dispatch job
in the test's thread, so each step of a story is deterministic."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from plera.aggregates.enrollment import LeadEnrollment
from plera.channels.linkedin_sandbox import SandboxServer
from plera.clock import FixedClock
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
from plera.scheduling.worker import Worker
from plera.settings import Settings
from tests.fakes.smtp_server import FakeSmtp

ACTOR = "test"
SEED = [
    {"channel": "linkedin_invite", "delay_days": 0, "condition": "always"},
    {"channel": "email", "delay_days": 3, "condition": "no_reply"},
    {"channel": "email", "delay_days": 2, "condition": "no_reply"},
    {"channel": "email", "delay_days": 2, "condition": "no_reply"},
]
MONDAY_0700_UTC = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 08:00 in Berlin: before the window


@pytest.fixture
def linkedin_sandbox() -> Iterator[SandboxServer]:
    server = SandboxServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class World:
    sv: Services
    clock: FixedClock
    smtp: FakeSmtp
    sandbox: SandboxServer
    workspace_id: UUID
    run_id: UUID
    group_id: UUID
    senders: dict[str, UUID]
    leads: dict[str, UUID] = field(default_factory=dict)
    sequence_id: UUID | None = None
    feed: InProcessFeed | None = None

    def catch_up(self) -> None:
        assert self.feed is not None
        self.feed.catch_up()

    def worker(self, name: str = "w1", **options: Any) -> Worker:
        return Worker(self.sv, name=name, workspace_id=self.workspace_id, **options)

    def dispatch(self, worker: Worker | None = None) -> dict[str, int]:
        """Runs the dispatch job until nothing more is due now; returns the outcomes."""
        worker = worker or self.worker()
        while True:
            self.catch_up()
            if worker.dispatch_due() == 0:
                break
        self.catch_up()
        return dict(worker.outcomes)

    def advance(self, **delta: float) -> dict[str, int]:
        self.clock.advance(timedelta(**delta))
        return self.dispatch()

    def import_leads(self, *rows: dict[str, Any]) -> list[UUID]:
        result = import_leads(self.sv, self.workspace_id, self.group_id, parse_json_rows(list(rows)), ACTOR)
        for row, lead_id in zip(rows, result.lead_ids, strict=True):
            self.leads[row.get("first_name") or str(lead_id)] = lead_id
        return list(result.lead_ids)

    def launch(self, steps: list[dict[str, Any]] | None = None, **settings: Any) -> UUID:
        mark_enriched(self.sv, self.workspace_id, self.group_id, ACTOR)
        body: dict[str, Any] = {
            "run_id": self.run_id,
            "name": "Seed",
            "source_group_ids": [self.group_id],
            "steps": steps or SEED,
        }
        if settings:
            body["settings"] = settings
        sequence = create_sequence(self.sv, self.workspace_id, CreateSequence.model_validate(body), ACTOR)
        self.catch_up()
        families = {"email" if s["channel"] == "email" else "linkedin" for s in body["steps"]}
        make_ready(self.sv, self.workspace_id, sequence.id, ACTOR, senders={f: [self.senders[f]] for f in families})
        launch_sequence(self.sv, self.workspace_id, sequence.id, ACTOR)
        self.sequence_id = sequence.id
        self.catch_up()
        return sequence.id

    def enrollment(self, name: str) -> LeadEnrollment:
        assert self.sequence_id is not None
        return self.sv.events.get(LeadEnrollment.create_id(self.sequence_id, self.leads[name]), LeadEnrollment)

    def emails_to(self, address: str) -> list[Any]:
        return [m.message for m in self.smtp.messages if address in m.rcpt_tos]

    def invites(self) -> list[dict[str, Any]]:
        return list(self.sandbox.sandbox.state()["invitations"])


@pytest.fixture
def world(database_url: str, tmp_path: Path, smtp_server: FakeSmtp, linkedin_sandbox: SandboxServer) -> Iterator[World]:
    clock = FixedClock(MONDAY_0700_UTC)
    settings = Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-key")
    sv = Services.open(settings, clock=clock)
    try:
        ws = create_workspace(sv, CreateWorkspace(name="Sending", timezone="Europe/Berlin"), ACTOR).workspace.id
        run = create_run(sv, ws, CreateRun(name="Q2"), ACTOR)
        group = create_source_group(sv, ws, run.id, CreateSourceGroup(name="Leads"), ACTOR)
        email = add_sender_account(
            sv,
            ws,
            AddSenderAccount.model_validate(
                {
                    "channel": "email",
                    "name": "Alex",
                    "address": "alex@plera.example",
                    "signature": "Alex, Plera",
                    "daily_limit": 100,
                    "smtp": {"host": smtp_server.host, "port": smtp_server.port, "starttls": False},
                }
            ),
            ACTOR,
        )
        linkedin = add_sender_account(
            sv,
            ws,
            AddSenderAccount.model_validate(
                {
                    "channel": "linkedin",
                    "name": "Alex",
                    "address": "https://www.linkedin.com/in/alex",
                    "daily_limit": 100,
                    "provider": {"base_url": linkedin_sandbox.base_url, "api_key": "k", "account_id": "alex"},
                }
            ),
            ACTOR,
        )
        yield World(
            sv=sv,
            clock=clock,
            smtp=smtp_server,
            sandbox=linkedin_sandbox,
            workspace_id=ws,
            run_id=run.id,
            group_id=group.id,
            senders={"email": email.id, "linkedin": linkedin.id},
            feed=InProcessFeed(sv, ALL),
        )
    finally:
        sv.close()
