"""What the demo shows of the first morning, in the order it happens: the import, the drafts, readiness,
the launch; and the auditor's table of a lead's history that `plera history` prints."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from rich.console import Console
from rich.table import Table

from plera.aggregates.lead import Lead
from plera.aggregates.sequence import Sequence
from plera.commands.enrollments import enrollments_of
from plera.demo.words import channel
from plera.runtime import Services

CONDITIONS = {"always": "always", "no_reply": "if no reply yet"}


def print_import(console: Console, result: dict[str, Any]) -> None:
    console.print(f"\nImported {result['imported']} leads from the sample CSV ({result['existing']} already known).")
    for rejection in result["rejected"]:
        console.print(f"  row {rejection['row']} left out: {rejection['detail']}", markup=False)


def print_previews(console: Console, lead: Lead, items: list[dict[str, Any]]) -> None:
    console.print(f"\nWhat {lead.name} would receive (drafts written offline, not yet approved):", markup=False)
    for item in items:
        head = f"step {item['step']}, {channel(item['channel'])}" + (f": {item['subject']}" if item["subject"] else "")
        console.print(f"[bold]{head}[/]")
        if item["skipped"]:
            console.print(f"skipped: {item['skip_reason']}", markup=False)
        else:
            console.print(item["body"].strip(), soft_wrap=True, markup=False)


def print_readiness(console: Console, report: dict[str, Any]) -> None:
    console.print(f"\nEvery step approved. Ready to launch: {'yes' if report['ready'] else 'no'}")
    for finding in report["findings"]:
        console.print(f"  {finding['severity']}: {finding['detail']}", markup=False)


def print_sequence(console: Console, sequence: dict[str, Any], enrolled: int) -> None:
    table = Table(title=f"Sequence {sequence['name']!r}: {sequence['status']}, {enrolled} leads enrolled")
    for column in ("step", "name", "channel", "days after the step before", "sent"):
        table.add_column(column)
    for step in sequence["steps"]:
        table.add_row(
            str(step["step"]),
            step["name"] or "",
            channel(step["channel"]),
            str(step["delay_days"]),
            CONDITIONS.get(step["condition"], step["condition"]),
        )
    console.print(table)


def print_leads(console: Console, sv: Services, sequence: Sequence, leads: dict[UUID, Lead]) -> None:
    table = Table(title="Leads")
    for column in ("lead", "company", "status", "next step"):
        table.add_column(column)
    rows = []
    for enrollment in enrollments_of(sv, sequence):
        view = enrollment.as_dict()
        lead = leads[enrollment.lead_id]
        next_step = view["next_step"]
        step = f"{next_step}, {channel(sequence.steps[next_step - 1]['channel'])}" if next_step else ""
        rows.append((lead.name, lead.details.get("company") or "", view["status"], step))
    for row in sorted(rows):
        table.add_row(*row)
    console.print(table)


def print_history(console: Console, history: dict[str, Any]) -> None:
    """The auditor's view: every event with its aggregate and version, as stored."""
    table = Table(title=f"History of lead {history['lead_id']}")
    for column in ("at", "event", "aggregate", "v", "actor"):
        table.add_column(column)
    for event in history["events"]:
        table.add_row(event["at"], event["type"], event["aggregate_id"][:8], str(event["version"]), event["actor"])
    console.print(table)
