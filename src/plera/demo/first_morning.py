"""The demo's first morning: what a person does before the sequence runs, a minute per stage."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from typing import Any
from uuid import UUID

from rich.console import Console

from plera.aggregates.lead import Lead
from plera.aggregates.sequence import Sequence
from plera.commands.lead_import import parse_csv
from plera.commands.messaging import ChooseSenders, approve_message, choose_senders, draft_messages, previews, readiness
from plera.commands.runs import CreateRun, create_run
from plera.commands.sender_accounts import AddSenderAccount, add_sender_account
from plera.commands.sequences import CreateSequence, create_sequence, launch_sequence
from plera.commands.source_groups import CreateSourceGroup, create_source_group, import_leads, mark_enriched
from plera.commands.strategy_profiles import CreateStrategyProfile, create_strategy_profile
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.demo import report_setup
from plera.demo.week import WORKSPACE_ZONE, MovableClock
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


@dataclass(frozen=True)
class Launched:
    workspace_id: UUID
    api_key: str
    webhook_secret: str
    sequence: Sequence
    leads: dict[UUID, Lead]
    enrolled: int


@dataclass(frozen=True)
class Sinks:
    """Where the senders send: an SMTP server and a LinkedIn provider."""

    smtp_host: str
    smtp_port: int
    linkedin_base_url: str


def build_and_launch(
    sv: Services, clock: MovableClock, console: Console, catch_up: Callable[[], Any], sinks: Sinks
) -> Launched:
    """Workspace, leads, senders, the Messaging Lab (drafts, a preview, approval) and the launch."""

    def a_minute_later() -> None:
        clock.advance(timedelta(minutes=1))

    ws = create_workspace(
        sv, CreateWorkspace(name="Demo", timezone=WORKSPACE_ZONE.key, holiday_countries=["DE"]), ACTOR
    )
    workspace_id = ws.workspace.id
    a_minute_later()
    run = create_run(sv, workspace_id, CreateRun(name="Q1 outbound"), ACTOR)
    group = create_source_group(sv, workspace_id, run.id, CreateSourceGroup(name="Sample leads"), ACTOR)
    imported = import_leads(sv, workspace_id, group.id, parse_csv(sample_leads()), ACTOR)
    leads: dict[UUID, Lead] = sv.events.load_many(imported.lead_ids)
    report_setup.print_import(console, imported.as_dict())
    a_minute_later()
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
        AddSenderAccount.model_validate(
            {
                "channel": "email",
                "name": "Alex",
                "address": "alex@plera.example",
                "daily_limit": 40,
                "smtp": {"host": sinks.smtp_host, "port": sinks.smtp_port, "starttls": False},
            }
        ),
        ACTOR,
    )
    linkedin = add_sender_account(
        sv,
        workspace_id,
        AddSenderAccount.model_validate(
            {
                "channel": "linkedin",
                "name": "Alex",
                "address": "https://www.linkedin.com/in/alex-plera",
                "daily_limit": 25,
                "weekly_invite_limit": 100,
                "provider": {"base_url": sinks.linkedin_base_url, "api_key": "demo", "account_id": "alex-plera"},
            }
        ),
        ACTOR,
    )
    sequence = create_sequence(
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
    a_minute_later()
    # The Messaging Lab: offline drafts, a look at what the first lead would get, approval, launch.
    draft_messages(sv, workspace_id, sequence.id, ACTOR)
    choose_senders(sv, workspace_id, sequence.id, ChooseSenders(email=[email.id], linkedin=[linkedin.id]), ACTOR)
    shown = previews(sv, workspace_id, sequence.id, lead_id=None, limit=1)
    report_setup.print_previews(console, leads[UUID(str(shown[0]["lead_id"]))], shown)
    a_minute_later()
    for step in range(1, len(SEED_STEPS) + 1):
        approve_message(sv, workspace_id, sequence.id, step, ACTOR, lead_id=None)
    report_setup.print_readiness(console, readiness(sv, workspace_id, sequence.id))
    a_minute_later()
    sequence, enrolled = launch_sequence(sv, workspace_id, sequence.id, ACTOR)
    catch_up()
    report_setup.print_sequence(console, sequence.as_dict(), enrolled)
    report_setup.print_leads(console, sv, sequence, leads)
    return Launched(
        workspace_id=workspace_id,
        api_key=ws.api_key,
        webhook_secret=ws.webhook_secret,
        sequence=sequence,
        leads=leads,
        enrolled=enrolled,
    )
