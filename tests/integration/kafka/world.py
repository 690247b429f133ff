"""A little world of commands, for tests that need events to flow."""

from __future__ import annotations

from uuid import UUID

from plera.commands.lead_import import parse_json_rows
from plera.commands.runs import CreateRun, create_run
from plera.commands.sequences import CreateSequence, create_sequence, launch_sequence
from plera.commands.source_groups import CreateSourceGroup, create_source_group, import_leads, mark_enriched
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.demo import make_ready
from tests.sinks import sink_senders

STEPS = [
    {"channel": "linkedin_invite", "delay_days": 0, "condition": "always"},
    {"channel": "email", "delay_days": 3, "condition": "no_reply"},
]


def launched_sequence(services, leads: int, name: str = "kafka") -> dict[str, UUID | str]:
    new = create_workspace(services, CreateWorkspace(name=name), "test")
    ws = new.workspace.id
    run = create_run(services, ws, CreateRun(name="run"), "test")
    group = create_source_group(services, ws, run.id, CreateSourceGroup(name="group"), "test")
    rows = [{"email": f"p{i}@{name}.example", "first_name": f"P{i}"} for i in range(leads)]
    import_leads(services, ws, group.id, parse_json_rows(rows), "test")
    mark_enriched(services, ws, group.id, "test")
    cmd = CreateSequence.model_validate(
        {"run_id": run.id, "name": name, "source_group_ids": [group.id], "steps": STEPS}
    )
    sequence = create_sequence(services, ws, cmd, "test")
    make_ready(services, ws, sequence.id, "test", senders=sink_senders(services, ws, sequence.id))
    launch_sequence(services, ws, sequence.id, "test")
    return {"workspace_id": ws, "run_id": run.id, "group_id": group.id, "sequence_id": sequence.id, "key": new.api_key}


def add_leads(services, ids: dict, start: int, count: int, name: str = "kafka") -> None:
    rows = [{"email": f"p{i}@{name}.example", "first_name": f"P{i}"} for i in range(start, start + count)]
    import_leads(services, ids["workspace_id"], ids["group_id"], parse_json_rows(rows), "test")
