"""Sequence: the ordered steps a lead goes through, and the sequence's lifecycle."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from plera.aggregates.base import PleraAggregate
from plera.aggregates.errors import (
    InvalidValue,
    LaunchBlocked,
    SequenceNotActive,
    SequenceNotDraft,
)
from plera.aggregates.sequence_messages import SequenceMessages, message_view
from plera.aggregates.sequence_steps import DEFAULT_SETTINGS, checked_settings, checked_steps


class Sequence(SequenceMessages):
    """Steps, settings and lifecycle; the messages and senders are SequenceMessages'."""

    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["messages"], state["overrides"] = {}, {}
        state["senders"] = {"email": [], "linkedin": []}
        for step in state["steps"]:
            step.setdefault("key", f"v1-{id(step):x}")

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
        self.messages: dict[str, dict[str, Any]] = {}  # step key → message
        self.overrides: dict[str, dict[str, Any]] = {}  # "lead id/step key" → message
        self.senders: dict[str, list[UUID]] = {"email": [], "linkedin": []}

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
        new = checked_steps(steps, self.steps)
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
        """Pins the approved message versions that go out: [{step, step_key, version}], and the overrides'."""

        class_version = 2
        messages: list[dict[str, Any]]
        overrides: list[dict[str, Any]]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["messages"], state["overrides"] = [], []

        def apply(self, sequence: Sequence) -> None:
            sequence.status = "active"
            sequence.launched_at = self.timestamp

    def launch(self, *, at: datetime, actor: str) -> None:
        """Activates a draft whose every message is approved. Launching again changes nothing."""
        self._check_not_archived()
        if self.status != "draft":
            return
        unapproved = self.unapproved_steps()
        if unapproved:
            steps = ", ".join(map(str, unapproved))
            finding = {"code": "step_not_approved", "severity": "blocking", "steps": unapproved, "lead_count": None}
            raise LaunchBlocked(f"steps not approved: {steps}", [{**finding, "detail": f"steps {steps}"}])
        pins = [
            {"step": n, "step_key": s["key"], "version": self.messages[s["key"]]["approved_version"]}
            for n, s in enumerate(self.steps, start=1)
            if s["key"] in self.messages
        ]
        overrides = [
            {"lead_id": m["lead_id"], "step": self.step_number(m["step_key"]), "step_key": m["step_key"], "version": v}
            for m in self.current_overrides()
            if (v := m["approved_version"]) is not None
        ]
        self._record(self.SequenceLaunched, at=at, actor=actor, messages=pins, overrides=overrides)

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

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "run_id": str(self.run_id),
            "name": self.name,
            "status": self.status,
            "strategy_profile_id": str(self.strategy_profile_id) if self.strategy_profile_id else None,
            "source_group_ids": [str(g) for g in self.source_group_ids],
            "steps": [
                {"step": n, **s, "message": message_view(self.messages.get(s["key"]))}
                for n, s in enumerate(self.steps, start=1)
            ],
            "senders": {k: [str(i) for i in v] for k, v in self.senders.items()},
            "settings": self.settings,
            "launched_at": self.launched_at.isoformat() if self.launched_at else None,
            "version": self.version,
        }
