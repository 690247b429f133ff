"""StrategyProfile: who we write to, what we offer, and in what voice."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from plera.aggregates.base import PleraAggregate
from plera.aggregates.errors import InvalidValue


class StrategyProfile(PleraAggregate):
    class StrategyProfileCreated(PleraAggregate.Created):
        workspace_id: UUID
        name: str
        offer: str
        persona: str
        tone: str
        call_to_action: str
        language: str
        signature: str
        avoid_words: list[str]

    def __init__(
        self,
        workspace_id: UUID,
        name: str,
        offer: str,
        persona: str,
        tone: str,
        call_to_action: str,
        language: str,
        signature: str,
        avoid_words: list[str],
    ) -> None:
        self.workspace_id = workspace_id
        self.name = name
        self.offer = offer
        self.persona = persona
        self.tone = tone
        self.call_to_action = call_to_action
        self.language = language
        self.signature = signature
        self.avoid_words = avoid_words

    @classmethod
    def create(cls, *, workspace_id: UUID, at: datetime, actor: str, **fields: str | list[str]) -> StrategyProfile:
        if not str(fields.get("name", "")).strip():
            raise InvalidValue("a strategy profile needs a name")
        return cls._record_created(
            cls.StrategyProfileCreated, id=uuid4(), at=at, actor=actor, workspace_id=workspace_id, **fields
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "id": str(self.id),
            "name": self.name,
            "offer": self.offer,
            "persona": self.persona,
            "tone": self.tone,
            "call_to_action": self.call_to_action,
            "language": self.language,
            "signature": self.signature,
            "avoid_words": self.avoid_words,
        }
