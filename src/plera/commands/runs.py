"""Runs: the campaigns that sequences belong to."""

from __future__ import annotations

from uuid import UUID

from plera.aggregates.run import Run
from plera.commands.models import Command, Line, line
from plera.runtime import Services


class CreateRun(Command):
    name: Line = line()
    play_id: Line | None = line(100, default=None)


def create_run(sv: Services, workspace_id: UUID, cmd: CreateRun, actor: str) -> Run:
    run = Run.create(workspace_id=workspace_id, name=cmd.name, play_id=cmd.play_id, at=sv.clock.now(), actor=actor)
    sv.events.save(run)
    return run


def archive_run(sv: Services, workspace_id: UUID, run_id: UUID, actor: str) -> Run:
    run = sv.events.get(run_id, Run, workspace_id)
    run.archive(at=sv.clock.now(), actor=actor)
    sv.events.save(run)
    return run


def run_view(run: Run) -> dict[str, object]:
    return {"id": str(run.id), "name": run.name, "status": run.status, "play_id": run.play_id}
