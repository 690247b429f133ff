"""Sequence: the ordered steps a lead goes through, and the sequence's lifecycle."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from plera.aggregates.base import PleraAggregate
from plera.aggregates.channels import Channel, Condition
from plera.aggregates.errors import InvalidValue, SequenceArchived, SequenceNotActive, SequenceNotDraft

DEFAULT_SETTINGS: dict[str, Any] = {"company_stop": "off", "daily_new_leads": None, "invite_without_note": False}
COMPANY_STOP = ("off", "stop", "pause")


def checked_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validates steps and returns them in their stored shape; step numbers are positions from 1."""
    if not steps:
        raise InvalidValue("a sequence needs at least one step")
    out = []
    for number, step in enumerate(steps, start=1):
        try:
            channel = Channel(str(step.get("channel")))
        except ValueError:
            raise InvalidValue(f"step {number}: channel is one of {', '.join(c.value for c in Channel)}") from None
        try:
            condition = Condition(step.get("condition", Condition.ALWAYS))
        except ValueError:
            raise InvalidValue(f"step {number}: condition is always or no_reply") from None
        delay = step.get("delay_days", 0)
        if not isinstance(delay, int) or isinstance(delay, bool) or delay < 0:
            raise InvalidValue(f"step {number}: delay_days must be a whole number of days, 0 or more")
        out.append(
            {"name": step.get("name"), "channel": channel.value, "delay_days": delay, "condition": condition.value}
        )
    return out


def checked_settings(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    unknown = set(changes) - set(DEFAULT_SETTINGS)
    if unknown:
        raise InvalidValue(f"unknown settings: {', '.join(sorted(unknown))}")
    merged = current | changes
    if merged["company_stop"] not in COMPANY_STOP:
        raise InvalidValue("company_stop is off, stop or pause")
    limit = merged["daily_new_leads"]
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise InvalidValue("daily_new_leads is a positive number, or null for no limit")
    if not isinstance(merged["invite_without_note"], bool):
        raise InvalidValue("invite_without_note is true or false")
    return merged


class Sequence(PleraAggregate):
    class SequenceCreated(PleraAggregate.Created):
        workspace_id: UUID
        run_id: UUID
        name: str
        strategy_profile_id: UUID | None
        source_group_ids: list[UUID]
        steps: list[dict[str, Any]]
        settings: dict[str, Any]

    def __init__(
        self,
        workspace_id: UUID,
        run_id: UUID,
        name: str,
        strategy_profile_id: UUID | None,
        source_group_ids: list[UUID],
        steps: list[dict[str, Any]],
        settings: dict[str, Any],
    ) -> None:
        self.workspace_id = workspace_id
        self.run_id = run_id
        self.name = name
        self.strategy_profile_id = strategy_profile_id
        self.source_group_ids = source_group_ids
        self.steps = steps
        self.settings = settings
        self.status = "draft"
        self.launched_at: datetime | None = None

    @classmethod
    def create(
        cls,
        *,
        workspace_id: UUID,
        run_id: UUID,
        name: str,
        strategy_profile_id: UUID | None,
        source_group_ids: list[UUID],
        steps: list[dict[str, Any]],
        at: datetime,
        actor: str,
        settings: dict[str, Any] | None = None,
    ) -> Sequence:
        if not name.strip():
            raise InvalidValue("a sequence needs a name")
        return cls._record_created(
            cls.SequenceCreated,
            id=uuid4(),
            at=at,
            actor=actor,
            workspace_id=workspace_id,
            run_id=run_id,
            name=name.strip(),
            strategy_profile_id=strategy_profile_id,
            source_group_ids=list(dict.fromkeys(source_group_ids)),
            steps=checked_steps(steps),
            settings=checked_settings(DEFAULT_SETTINGS, settings or {}),
        )

    class SequenceRenamed(PleraAggregate.Event):
        name: str

        def apply(self, sequence: Sequence) -> None:
            sequence.name = self.name

    def rename(self, *, name: str, at: datetime, actor: str) -> None:
        self._check_not_archived()
        if not name.strip():
            raise InvalidValue("a sequence needs a name")
        if name.strip() != self.name:
            self._record(self.SequenceRenamed, at=at, actor=actor, name=name.strip())

    class SequenceSettingsChanged(PleraAggregate.Event):
        settings: dict[str, Any]

        def apply(self, sequence: Sequence) -> None:
            sequence.settings = self.settings

    def change_settings(self, *, changes: dict[str, Any], at: datetime, actor: str) -> None:
        self._check_not_archived()
        merged = checked_settings(self.settings, changes)
        if merged != self.settings:
            self._record(self.SequenceSettingsChanged, at=at, actor=actor, settings=merged)

    class StepsReplaced(PleraAggregate.Event):
        steps: list[dict[str, Any]]

        def apply(self, sequence: Sequence) -> None:
            sequence.steps = self.steps

    def replace_steps(self, *, steps: list[dict[str, Any]], at: datetime, actor: str) -> None:
        if self.status != "draft":
            raise SequenceNotDraft(f"steps can be edited only while the sequence is a draft (it is {self.status})")
        new = checked_steps(steps)
        if new != self.steps:
            self._record(self.StepsReplaced, at=at, actor=actor, steps=new)

    class SourceGroupsChanged(PleraAggregate.Event):
        source_group_ids: list[UUID]

        def apply(self, sequence: Sequence) -> None:
            sequence.source_group_ids = self.source_group_ids

    def change_source_groups(self, *, source_group_ids: list[UUID], at: datetime, actor: str) -> None:
        self._check_not_archived()
        ids = list(dict.fromkeys(source_group_ids))
        if ids != self.source_group_ids:
            self._record(self.SourceGroupsChanged, at=at, actor=actor, source_group_ids=ids)

    class SequenceLaunched(PleraAggregate.Event):
        def apply(self, sequence: Sequence) -> None:
            sequence.status = "active"
            sequence.launched_at = self.timestamp

    def launch(self, *, at: datetime, actor: str) -> None:
        """Activates a draft. Launching an active or paused sequence again changes nothing."""
        self._check_not_archived()
        if self.status == "draft":
            self._record(self.SequenceLaunched, at=at, actor=actor)

    class SequencePaused(PleraAggregate.Event):
        def apply(self, sequence: Sequence) -> None:
            sequence.status = "paused"

    def pause(self, *, at: datetime, actor: str) -> None:
        self._check_not_archived()
        if self.status == "draft":
            raise SequenceNotActive("a draft sequence cannot be paused: launch it first")
        if self.status == "active":
            self._record(self.SequencePaused, at=at, actor=actor)

    class SequenceResumed(PleraAggregate.Event):
        def apply(self, sequence: Sequence) -> None:
            sequence.status = "active"

    def resume(self, *, at: datetime, actor: str) -> None:
        self._check_not_archived()
        if self.status == "draft":
            raise SequenceNotActive("a draft sequence cannot be resumed: launch it first")
        if self.status == "paused":
            self._record(self.SequenceResumed, at=at, actor=actor)

    class SequenceArchived(PleraAggregate.Event):
        def apply(self, sequence: Sequence) -> None:
            sequence.status = "archived"

    def archive(self, *, at: datetime, actor: str) -> None:
        if self.status != "archived":
            self._record(self.SequenceArchived, at=at, actor=actor)

    class SequenceCompleted(PleraAggregate.Event):
        def apply(self, sequence: Sequence) -> None:
            sequence.status = "completed"

    def complete(self, *, at: datetime, actor: str) -> None:
        if self.status in ("active", "paused"):
            self._record(self.SequenceCompleted, at=at, actor=actor)

    def check_enrollable(self) -> None:
        """Leads enter only a launched sequence that is not archived or completed."""
        if self.status in ("draft", "archived", "completed"):
            raise SequenceNotActive(f"leads cannot be enrolled into a {self.status} sequence")

    @property
    def is_running(self) -> bool:
        return self.status == "active"

    def _check_not_archived(self) -> None:
        if self.status == "archived":
            raise SequenceArchived(f"sequence {self.id} is archived")

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "run_id": str(self.run_id),
            "name": self.name,
            "status": self.status,
            "strategy_profile_id": str(self.strategy_profile_id) if self.strategy_profile_id else None,
            "source_group_ids": [str(g) for g in self.source_group_ids],
            "steps": [{"step": n, **s} for n, s in enumerate(self.steps, start=1)],
            "settings": self.settings,
            "launched_at": self.launched_at.isoformat() if self.launched_at else None,
            "version": self.version,
        }
