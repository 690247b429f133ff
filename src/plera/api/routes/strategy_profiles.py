"""Strategy profiles: offer, persona and voice for a sequence's messages."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel

from plera.api.auth import CallerDep
from plera.api.deps import PagingDep, ServicesDep, catalog_page
from plera.api.models import Listed, Page
from plera.api.problems import responses
from plera.commands.strategy_profiles import CreateStrategyProfile, create_strategy_profile

router = APIRouter(prefix="/strategy-profiles", tags=["strategy profiles"], responses=responses(401, 422))


class ProfileOut(BaseModel):
    id: UUID
    name: str
    offer: str
    persona: str
    tone: str
    call_to_action: str
    language: str
    signature: str
    avoid_words: list[str]


class ProfileItem(ProfileOut, Listed):
    pass


@router.post("", status_code=201, response_model=ProfileOut, summary="Create a strategy profile")
def post_profile(sv: ServicesDep, caller: CallerDep, body: CreateStrategyProfile) -> dict[str, Any]:
    return create_strategy_profile(sv, caller.workspace_id, body, caller.actor).as_dict()


@router.get("", response_model=Page[ProfileItem], summary="List strategy profiles, oldest first")
def list_profiles(sv: ServicesDep, caller: CallerDep, page: PagingDep) -> dict[str, Any]:
    return catalog_page(sv, caller.workspace_id, "strategy_profile", page)
