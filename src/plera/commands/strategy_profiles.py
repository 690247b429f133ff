"""Strategy profiles: offer, persona and voice for a sequence's messages."""

from __future__ import annotations

from uuid import UUID

from pydantic import Field

from plera.aggregates.strategy_profile import StrategyProfile
from plera.commands.models import Command
from plera.runtime import Services


class CreateStrategyProfile(Command):
    name: str = Field(min_length=1, max_length=200)
    offer: str = ""
    persona: str = ""
    tone: str = ""
    call_to_action: str = ""
    language: str = "en"
    signature: str = ""
    avoid_words: list[str] = Field(default_factory=list)


def create_strategy_profile(
    sv: Services, workspace_id: UUID, cmd: CreateStrategyProfile, actor: str
) -> StrategyProfile:
    profile = StrategyProfile.create(workspace_id=workspace_id, at=sv.clock.now(), actor=actor, **cmd.model_dump())
    sv.events.save(profile)
    return profile
