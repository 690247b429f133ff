"""The soak's world: the workspace, with its window opened around now, its senders and sequences."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from plera.aggregates.enrollment import LeadEnrollment
from plera.commands.lead_import import parse_json_rows
from plera.commands.runs import CreateRun, create_run
from plera.commands.sender_accounts import AddSenderAccount, add_sender_account, set_sender_status
from plera.commands.sequences import CreateSequence, create_sequence, launch_sequence
from plera.commands.source_groups import CreateSourceGroup, create_source_group, import_leads, mark_enriched
from plera.commands.workspaces import CreateWorkspace, create_workspace
from plera.demo import make_ready
from plera.runtime import Services

ACTOR = "soak"
STEPS = [{"channel": "email", "delay_days": 0, "condition": "no_reply"} for _ in range(2)]
DAILY_LIMIT = 10_000  # the most a sender may have


def window_around_now(now: datetime, minutes: float) -> tuple[str, str, str]:
    """(zone, window_start, window_end): an Etc/GMT zone whose local time is now 12:xx, and a window
    from 30 minutes before now to an hour after the run's planned end (set-up and drain included)."""
    offset = 12 - now.hour  # -11..12, hours east of UTC
    zone = "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # the Etc/GMT names count west as positive
    local = now + timedelta(hours=offset)
    start = local - timedelta(minutes=30)
    end = min(local + timedelta(minutes=minutes + 60), local.replace(hour=23, minute=59))
    return zone, f"{start:%H:%M}", f"{end:%H:%M}"


@dataclass
class World:
    workspace_id: UUID
    api_key: str
    webhook_secret: str
    run_id: UUID
    sequence_id: UUID
    live_group: UUID
    side_group: UUID
    senders: list[UUID]
    zone: str
    window: tuple[str, str]
    held: list[UUID]  # enrollments of the held sequence, which the pauses and resumes take


def set_up(sv: Services, args: argparse.Namespace, sink_port: int) -> World:
    zone, start, end = window_around_now(datetime.now(UTC), args.minutes + args.drain / 60)
    created = create_workspace(
        sv,
        CreateWorkspace(
            name="soak",
            timezone=zone,
            window_start=start,
            window_end=end,
            sending_days=["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            holiday_countries=[],
        ),
        ACTOR,
    )
    ws = created.workspace.id
    run = create_run(sv, ws, CreateRun(name="soak"), ACTOR).id
    live = create_source_group(sv, ws, run, CreateSourceGroup(name="arrivals"), ACTOR).id
    side = create_source_group(sv, ws, run, CreateSourceGroup(name="later"), ACTOR).id
    mark_enriched(sv, ws, live, ACTOR)
    smtp = {"host": "127.0.0.1", "port": sink_port, "starttls": False}
    senders = [
        add_sender_account(
            sv,
            ws,
            AddSenderAccount.model_validate(
                {
                    "channel": "email",
                    "name": f"Sender {i}",
                    "address": f"sender{i}@plera.example",
                    "daily_limit": DAILY_LIMIT,
                    "smtp": smtp,
                }
            ),
            ACTOR,
        ).id
        for i in range(args.senders)
    ]
    body = {"run_id": run, "name": "soak", "source_group_ids": [live], "steps": STEPS}
    sequence = create_sequence(sv, ws, CreateSequence.model_validate(body), ACTOR)
    make_ready(sv, ws, sequence.id, ACTOR, senders={"email": senders})
    launch_sequence(sv, ws, sequence.id, ACTOR)
    held = held_sequence(sv, ws, run, smtp)
    return World(
        ws, created.api_key, created.webhook_secret, run, sequence.id, live, side, senders, zone, (start, end), held
    )


def held_sequence(sv: Services, ws: UUID, run: UUID, smtp: dict[str, Any], leads: int = 1000) -> list[UUID]:
    """A launched one-step sequence whose only sender is paused: its leads stay enrolled, each with a
    step waiting, for the API mix's per-lead pauses and resumes to take (the launched sequence's
    enrollments are done within seconds, and a finished one refuses a pause)."""
    group = create_source_group(sv, ws, run, CreateSourceGroup(name="held"), ACTOR).id
    rows = [{"email": f"h{i}@held{i}.example", "first_name": f"Held{i}"} for i in range(leads)]
    imported = import_leads(sv, ws, group, parse_json_rows(rows), ACTOR)
    mark_enriched(sv, ws, group, ACTOR)
    sender = add_sender_account(
        sv,
        ws,
        AddSenderAccount.model_validate(
            {"channel": "email", "name": "Held", "address": "held@plera.example", "daily_limit": 100, "smtp": smtp}
        ),
        ACTOR,
    ).id
    body = {"run_id": run, "name": "held", "source_group_ids": [group], "steps": STEPS[:1]}
    sequence = create_sequence(sv, ws, CreateSequence.model_validate(body), ACTOR)
    make_ready(sv, ws, sequence.id, ACTOR, senders={"email": [sender]})
    launch_sequence(sv, ws, sequence.id, ACTOR)
    set_sender_status(sv, ws, sender, paused=True, reason="held", actor=ACTOR)  # before any worker runs
    return [LeadEnrollment.create_id(sequence.id, lead_id) for lead_id in imported.lead_ids]
