"""`plera demo`: a scripted scenario from workspace to launch, shown as a person would read it."""

from __future__ import annotations

from importlib import resources
from typing import Any
from uuid import UUID

from rich.console import Console
from rich.table import Table

from plera.aggregates.sequence import Sequence
from plera.commands.enrollments import enrollments_of
from plera.commands.history import lead_history
from plera.commands.lead_import import parse_csv
from plera.commands.messaging import (
    ChooseSenders,
    MessageIn,
    approve_message,
    choose_senders,
    draft_messages,
    edit_message,
    previews,
    readiness,
)
from plera.commands.runs import CreateRun, create_run
from plera.commands.sender_accounts import AddSenderAccount, add_sender_account
from plera.commands.sequences import CreateSequence, launch_sequence
from plera.commands.sequences import create_sequence as create_sequence_command
from plera.commands.source_groups import CreateSourceGroup, create_source_group, import_leads, mark_enriched
from plera.commands.strategy_profiles import CreateStrategyProfile, create_strategy_profile
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.runtime import Services

ACTOR = "demo"

# The seed's LinkedIn-first sequence. The seed counts days from entry (0, 3, 5, 7);
# our delays count from the previous step, so they are 0, 3, 2 and 2.
SEED_STEPS: list[dict[str, Any]] = [
    {"name": "Connect on LinkedIn", "channel": "linkedin_invite", "delay_days": 0, "condition": "always"},
    {"name": "First email", "channel": "email", "delay_days": 3, "condition": "no_reply"},
    {"name": "Follow-up", "channel": "email", "delay_days": 2, "condition": "no_reply"},
    {"name": "Final email", "channel": "email", "delay_days": 2, "condition": "no_reply"},
]


def sample_leads() -> bytes:
    return resources.files("plera.samples").joinpath("leads.csv").read_bytes()


def run_demo(sv: Services, console: Console, catch_up: Any) -> dict[str, Any]:
    """Builds the scenario, then prints a summary and one lead's history. Returns the ids it made."""
    stored_before = sv.events.app.recorder.max_notification_id() or 0
    console.rule("[bold]Plera demo")
    console.print(f"Database: {'reused, ' + str(stored_before) + ' events already stored' if stored_before else 'new'}")
    ws = create_workspace(sv, CreateWorkspace(name="Demo", timezone="Europe/Berlin", holiday_countries=["DE"]), ACTOR)
    workspace_id = ws.workspace.id
    run = create_run(sv, workspace_id, CreateRun(name="Q1 outbound"), ACTOR)
    group = create_source_group(sv, workspace_id, run.id, CreateSourceGroup(name="Sample leads"), ACTOR)
    imported = import_leads(sv, workspace_id, group.id, parse_csv(sample_leads()), ACTOR)
    mark_enriched(sv, workspace_id, group.id, ACTOR)
    profile = create_strategy_profile(
        sv,
        workspace_id,
        CreateStrategyProfile(
            name="Revenue leaders",
            offer="pipeline reviews that find stalled deals in a week",
            persona="heads of sales at B2B software companies",
            tone="plain and friendly",
            call_to_action="a 20-minute call next week",
            signature="Alex from Plera",
            avoid_words=["synergy", "revolutionary"],
        ),
        ACTOR,
    )
    email = add_sender_account(
        sv,
        workspace_id,
        AddSenderAccount(channel="email", name="Alex", address="alex@plera.example", daily_limit=40),
        ACTOR,
    )
    linkedin = add_sender_account(
        sv,
        workspace_id,
        AddSenderAccount(
            channel="linkedin",
            name="Alex",
            address="https://www.linkedin.com/in/alex-plera",
            daily_limit=25,
            weekly_invite_limit=100,
        ),
        ACTOR,
    )
    sequence = create_sequence_command(
        sv,
        workspace_id,
        CreateSequence.model_validate(
            {
                "run_id": run.id,
                "name": "LinkedIn first",
                "strategy_profile_id": profile.id,
                "source_group_ids": [group.id],
                "steps": SEED_STEPS,
            }
        ),
        ACTOR,
    )
    catch_up()
    # The Messaging Lab: offline drafts, a look at what the first lead would get, approval, launch.
    draft_messages(sv, workspace_id, sequence.id, ACTOR)
    choose_senders(sv, workspace_id, sequence.id, ChooseSenders(email=[email.id], linkedin=[linkedin.id]), ACTOR)
    _print_previews(console, previews(sv, workspace_id, sequence.id, lead_id=None, limit=1))
    for step in range(1, len(SEED_STEPS) + 1):
        approve_message(sv, workspace_id, sequence.id, step, ACTOR, lead_id=None)
    _print_readiness(console, readiness(sv, workspace_id, sequence.id))
    sequence, enrolled = launch_sequence(sv, workspace_id, sequence.id, ACTOR)
    catch_up()

    _print_import(console, imported.as_dict())
    _print_sequence(console, sequence.as_dict(), enrolled)
    _print_enrollments(console, sv, sequence)
    first = imported.lead_ids[0]
    print_history(console, lead_history(sv, workspace_id, first))
    console.print(f"\nWorkspace key (for the API): [bold]{ws.api_key}[/]", soft_wrap=True)
    return {"workspace_id": workspace_id, "sequence_id": sequence.id, "lead_id": first, "enrolled": enrolled}


def _print_previews(console: Console, items: list[dict[str, Any]]) -> None:
    console.print("\nWhat the first lead would receive (offline drafts, before approval):")
    for item in items:
        head = f"step {item['step']} ({item['channel']})" + (f": {item['subject']}" if item["subject"] else "")
        console.print(f"[bold]{head}[/]")
        console.print(item["body"].strip(), soft_wrap=True, markup=False)


def _print_readiness(console: Console, report: dict[str, Any]) -> None:
    console.print(f"\nReady to launch: {'yes' if report['ready'] else 'no'}")
    for finding in report["findings"]:
        console.print(f"  {finding['severity']}: {finding['code']}: {finding['detail']}", markup=False)


def make_ready(
    sv: Services, workspace_id: UUID, sequence_id: UUID, actor: str, *, senders: dict[str, list[UUID]] | None = None
) -> Sequence:
    """What a person does in the Messaging Lab before launch, all at once: a message for every step
    (the offline writer's drafts when the sequence has a strategy profile, else plain ones), senders
    for its channels (new sandbox accounts unless given), and every message approved."""
    sequence = sv.events.get(sequence_id, Sequence, workspace_id)
    if sequence.strategy_profile_id is not None:
        sequence = draft_messages(sv, workspace_id, sequence_id, actor)
    else:
        first_email = next((n for n, s in enumerate(sequence.steps, start=1) if s["channel"] == "email"), None)
        for step, spec in enumerate(sequence.steps, start=1):
            subject, body = PLAIN_MESSAGES[spec["channel"]]
            subject = subject if step == first_email else None  # later emails go in its thread, as "Re: …"
            edit_message(
                sv, workspace_id, sequence_id, step, MessageIn(subject=subject, body=body), actor, lead_id=None
            )
    if senders is None:
        families = {"email" if s["channel"] == "email" else "linkedin" for s in sequence.steps}
        senders = {family: [_sandbox_sender(sv, workspace_id, family, actor)] for family in sorted(families)}
    choose_senders(sv, workspace_id, sequence_id, ChooseSenders.model_validate(senders), actor)
    for step in range(1, len(sequence.steps) + 1):
        sequence = approve_message(sv, workspace_id, sequence_id, step, actor, lead_id=None)
    return sequence


PLAIN_MESSAGES: dict[str, tuple[str | None, str]] = {
    "email": (
        "A question for {{ lead.company | default('your team') }}",
        "Hi {{ lead.first_name | default('there') }},\n\nA short note from {{ sender.name | default('us') }}.\n\n"
        "{{ sender.signature | default('') }}\n\nUnsubscribe: {{ unsubscribe_url }}\n",
    ),
    "linkedin_invite": (None, "Hi {{ lead.first_name | default('there') }}, glad to connect."),
    "linkedin_message": (None, "Thanks for connecting, {{ lead.first_name | default('there') }}."),
}


def _sandbox_sender(sv: Services, workspace_id: UUID, family: str, actor: str) -> UUID:
    address = "sender@plera.example" if family == "email" else "https://www.linkedin.com/in/plera-sandbox"
    cmd = AddSenderAccount(channel=family, name=f"Sandbox {family}", address=address, daily_limit=1000)  # type: ignore[arg-type]
    return add_sender_account(sv, workspace_id, cmd, actor).id


def _print_import(console: Console, result: dict[str, Any]) -> None:
    console.print(f"\nImported {result['imported']} leads ({result['existing']} already known).")
    for rejection in result["rejected"]:
        console.print(f"  row {rejection['row']} rejected: {rejection['code']}: {rejection['detail']}")


def _print_sequence(console: Console, sequence: dict[str, Any], enrolled: int) -> None:
    table = Table(title=f"Sequence {sequence['name']!r}: {sequence['status']}, {enrolled} leads enrolled")
    for column in ("step", "name", "channel", "delay (days)", "condition"):
        table.add_column(column)
    for step in sequence["steps"]:
        table.add_row(
            str(step["step"]), step["name"] or "", step["channel"], str(step["delay_days"]), step["condition"]
        )
    console.print(table)


def _print_enrollments(console: Console, sv: Services, sequence: Any) -> None:
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
