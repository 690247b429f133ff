"""Run: a campaign. Its Play, discovery and analytics are its own; sequences point at it."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from plera.aggregates.base import PleraAggregate
from plera.aggregates.errors import InvalidValue, RunArchived


class Run(PleraAggregate):
    class RunCreated(PleraAggregate.Created):
        workspace_id: UUID
        name: str
        play_id: str | None

    def __init__(self, workspace_id: UUID, name: str, play_id: str | None) -> None:
        self.workspace_id = workspace_id
        self.name = name
        self.play_id = play_id
        self.status = "active"

    @classmethod
    def create(cls, *, workspace_id: UUID, name: str, at: datetime, actor: str, play_id: str | None = None) -> Run:
        if not name.strip():
            raise InvalidValue("a run needs a name")
        return cls._record_created(
            cls.RunCreated,
            id=uuid4(),
            at=at,
            actor=actor,
            workspace_id=workspace_id,
            name=name.strip(),
            play_id=play_id,
        )

    class RunArchived(PleraAggregate.Event):
        def apply(self, run: Run) -> None:
            run.status = "archived"

    def archive(self, *, at: datetime, actor: str) -> None:
        if self.status != "archived":
            self._record(self.RunArchived, at=at, actor=actor)

    def check_open(self) -> None:
        if self.status == "archived":
            raise RunArchived(f"run {self.id} is archived")
