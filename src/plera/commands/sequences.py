"""Sequences: create, change, launch, pause, resume and archive."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from plera.aggregates.errors import InvalidValue, LaunchBlocked
from plera.aggregates.lead import SourceGroup
from plera.aggregates.run import Run
from plera.aggregates.sequence import Sequence
from plera.aggregates.strategy_profile import StrategyProfile
from plera.commands.enrollments import enroll_sequence, start_waiting
from plera.commands.messaging import readiness_of
from plera.commands.models import Command, Line, line
from plera.runtime import Services


class StepIn(Command):
    key: Line | None = line(40, default=None, description="an existing step's key: keeps its message")
    name: Line | None = line(blank=True, default=None)
    channel: Literal["email", "linkedin_invite", "linkedin_message"]
    delay_days: int = Field(ge=0, le=365)
    condition: Literal["always", "no_reply"] = "always"


class SettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company_stop: Literal["off", "stop", "pause"] | None = None
    daily_new_leads: int | None = Field(default=None, ge=1, le=100_000)
    invite_without_note: bool | None = None
    sender_failover_hours: int | None = Field(
        default=None,
        ge=0,
        le=720,
        description="how long a due step waits on a paused or unavailable sender before it moves to another"
        " active sender of the sequence for its channel (default 24; 0 moves it at once)",
    )


class CreateSequence(Command):
    run_id: UUID
    name: Line = line()
    strategy_profile_id: UUID | None = None
    source_group_ids: list[UUID] = Field(default_factory=list, max_length=100)
    steps: list[StepIn] = Field(min_length=1, max_length=50)
    settings: SettingsIn | None = None


class ChangeSequence(Command):
    name: Line | None = line(default=None)
    settings: SettingsIn | None = None
    steps: list[StepIn] | None = Field(default=None, min_length=1, max_length=50)
    source_group_ids: list[UUID] | None = Field(default=None, max_length=100)


def create_sequence(sv: Services, workspace_id: UUID, cmd: CreateSequence, actor: str) -> Sequence:
    sv.events.get(cmd.run_id, Run, workspace_id).check_open()
    if cmd.strategy_profile_id is not None:
        sv.events.get(cmd.strategy_profile_id, StrategyProfile, workspace_id)
    groups = _groups(sv, workspace_id, cmd.run_id, cmd.source_group_ids)
    at = sv.clock.now()
    sequence = Sequence.create(
        workspace_id=workspace_id,
        run_id=cmd.run_id,
        name=cmd.name,
        strategy_profile_id=cmd.strategy_profile_id,
        source_group_ids=cmd.source_group_ids,
        steps=[s.model_dump() for s in cmd.steps],
        settings=cmd.settings.model_dump(exclude_none=True) if cmd.settings else None,
        at=at,
        actor=actor,
    )
    for group in groups:
        group.attach_sequence(sequence_id=sequence.id, at=at, actor=actor)
    sv.events.save(sequence, *groups)
    return sequence


def change_sequence(sv: Services, workspace_id: UUID, sequence_id: UUID, cmd: ChangeSequence, actor: str) -> Sequence:
    sequence = sv.events.get(sequence_id, Sequence, workspace_id)
    at = sv.clock.now()
    groups: list[SourceGroup] = []
    if cmd.name is not None:
        sequence.rename(name=cmd.name, at=at, actor=actor)
    if cmd.settings is not None:
        sequence.change_settings(changes=cmd.settings.model_dump(exclude_none=True), at=at, actor=actor)
    if cmd.steps is not None:
        sequence.replace_steps(steps=[s.model_dump() for s in cmd.steps], at=at, actor=actor)
    if cmd.source_group_ids is not None:
        groups = _groups(sv, workspace_id, sequence.run_id, cmd.source_group_ids)
        sequence.change_source_groups(source_group_ids=cmd.source_group_ids, at=at, actor=actor)
        for group in groups:
            group.attach_sequence(sequence_id=sequence.id, at=at, actor=actor)
    sv.events.save(sequence, *groups)
    return sequence


def launch_sequence(sv: Services, workspace_id: UUID, sequence_id: UUID, actor: str) -> tuple[Sequence, int]:
    """Activates the sequence, pinning its approved messages, and enrolls the leads of its eligible
    source groups. Refused (LaunchBlocked, with the findings) while a blocking finding remains."""
    sequence = sv.events.get(sequence_id, Sequence, workspace_id)
    if sequence.status == "draft":
        blocking = [f for f in readiness_of(sv, sequence)["findings"] if f["severity"] == "blocking"]
        if blocking:
            codes = ", ".join(dict.fromkeys(f["code"] for f in blocking))
            raise LaunchBlocked(f"the sequence is not ready to launch: {codes}", blocking)
    sequence.launch(at=sv.clock.now(), actor=actor)
    sv.events.save(sequence)
    return sequence, enroll_sequence(sv, sequence, actor)


def set_sequence_state(sv: Services, workspace_id: UUID, sequence_id: UUID, action: str, actor: str) -> Sequence:
    """pause, resume or archive; repeating one is a no-op."""
    sequence = sv.events.get(sequence_id, Sequence, workspace_id)
    at = sv.clock.now()
    {"pause": sequence.pause, "resume": sequence.resume, "archive": sequence.archive}[action](at=at, actor=actor)
    sv.events.save(sequence)
    if action == "resume":
        start_waiting(sv, sequence, actor)
    return sequence


def _groups(sv: Services, workspace_id: UUID, run_id: UUID, ids: list[UUID]) -> list[SourceGroup]:
    groups = [sv.events.get(i, SourceGroup, workspace_id) for i in dict.fromkeys(ids)]
    foreign = [str(g.id) for g in groups if g.run_id != run_id]
    if foreign:
        raise InvalidValue(f"source groups of another run: {', '.join(foreign)}")
    return groups
