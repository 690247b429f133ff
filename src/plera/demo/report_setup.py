"""What the demo shows of the first morning (drafts, readiness, the import, the sequence, its leads),
and a lead's history, which `plera history` prints too."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from plera.aggregates.sequence import Sequence
from plera.commands.enrollments import enrollments_of
from plera.runtime import Services


def print_previews(console: Console, items: list[dict[str, Any]]) -> None:
    console.print("\nWhat the first lead would receive (offline drafts, before approval):")
    for item in items:
        head = f"step {item['step']} ({item['channel']})" + (f": {item['subject']}" if item["subject"] else "")
        console.print(f"[bold]{head}[/]")
        if item["skipped"]:
            console.print(f"skipped: {item['skip_reason']}", markup=False)
        else:
            console.print(item["body"].strip(), soft_wrap=True, markup=False)


def print_readiness(console: Console, report: dict[str, Any]) -> None:
    console.print(f"\nReady to launch: {'yes' if report['ready'] else 'no'}")
    for finding in report["findings"]:
        console.print(f"  {finding['severity']}: {finding['code']}: {finding['detail']}", markup=False)


def print_import(console: Console, result: dict[str, Any]) -> None:
    console.print(f"\nImported {result['imported']} leads ({result['existing']} already known).")
    for rejection in result["rejected"]:
        console.print(f"  row {rejection['row']} rejected: {rejection['code']}: {rejection['detail']}")


def print_sequence(console: Console, sequence: dict[str, Any], enrolled: int) -> None:
    table = Table(title=f"Sequence {sequence['name']!r}: {sequence['status']}, {enrolled} leads enrolled")
    for column in ("step", "name", "channel", "delay (days)", "condition"):
        table.add_column(column)
    for step in sequence["steps"]:
        table.add_row(
            str(step["step"]), step["name"] or "", step["channel"], str(step["delay_days"]), step["condition"]
        )
    console.print(table)


def print_enrollments(console: Console, sv: Services, sequence: Sequence) -> None:
    table = Table(title="Leads")
    for column in ("lead", "status", "next step", "step 1"):
        table.add_column(column)
    for enrollment in enrollments_of(sv, sequence):
        view = enrollment.as_dict()
        table.add_row(view["lead_id"][:8], view["status"], str(view["next_step"]), view["steps"][0]["status"])
    console.print(table)


def print_history(console: Console, history: dict[str, Any]) -> None:
    table = Table(title=f"History of lead {history['lead_id']}")
    for column in ("at", "event", "aggregate", "v", "actor"):
        table.add_column(column)
    for event in history["events"]:
        table.add_row(event["at"], event["type"], event["aggregate_id"][:8], str(event["version"]), event["actor"])
    console.print(table)
