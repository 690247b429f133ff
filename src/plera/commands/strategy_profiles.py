"""Strategy profiles: offer, persona and voice for a sequence's messages."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from pydantic import Field

from plera.aggregates.strategy_profile import StrategyProfile
from plera.commands.models import LONG_TEXT_MAX, NAME_MAX, WORD_MAX, WORDS_MAX, Command, Line, line, text
from plera.runtime import Services


class CreateStrategyProfile(Command):
    name: Line = line()
    offer: str = text(LONG_TEXT_MAX, default="")
    persona: str = text(LONG_TEXT_MAX, default="")
    tone: str = text(NAME_MAX, default="")
    call_to_action: str = text(LONG_TEXT_MAX, default="")
    language: Line = line(35, default="en", description="a language tag such as en or pt-BR")
    signature: str = text(LONG_TEXT_MAX, default="", description="used where the sender account has none")
    avoid_words: list[Annotated[Line, line(WORD_MAX)]] = Field(default_factory=list, max_length=WORDS_MAX)


def create_strategy_profile(
    sv: Services, workspace_id: UUID, cmd: CreateStrategyProfile, actor: str
) -> StrategyProfile:
    profile = StrategyProfile.create(workspace_id=workspace_id, at=sv.clock.now(), actor=actor, **cmd.model_dump())
    sv.events.save(profile)
    return profile
