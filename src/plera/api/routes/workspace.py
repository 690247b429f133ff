"""The caller's workspace: its zone, sending window, days and holidays."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from plera.aggregates.workspace import Workspace
from plera.api.auth import CallerDep
from plera.api.deps import ServicesDep
from plera.api.problems import responses
from plera.commands.workspaces import ChangeWorkspace, change_workspace, workspace_view

router = APIRouter(prefix="/workspace", tags=["workspace"], responses=responses(401, 422))


class WorkspaceOut(BaseModel):
    id: UUID
    name: str
    timezone: str = Field(examples=["Europe/Berlin"])
    window_start: str = Field(examples=["09:00"])
    window_end: str = Field(examples=["17:00"])
    sending_days: list[str] = Field(examples=[["mon", "tue", "wed", "thu", "fri"]])
    holiday_countries: list[str] = Field(examples=[["US"]])
    out_of_office_pause_days: int = Field(
        examples=[7], description="days an auto-reply that names no return date pauses the lead"
    )


class WorkspaceWithSecret(WorkspaceOut):
    webhook_secret: str = Field(description="signs inbound webhooks (HMAC-SHA256); shown only here")


@router.get("", response_model=WorkspaceWithSecret, summary="The workspace, with its webhook secret")
def get_workspace(sv: ServicesDep, caller: CallerDep) -> dict[str, Any]:
    workspace = sv.events.get(caller.workspace_id, Workspace)
    return workspace_view(sv, workspace, with_secret=True)


@router.patch("", response_model=WorkspaceOut, summary="Change the workspace's settings")
def patch_workspace(sv: ServicesDep, caller: CallerDep, body: ChangeWorkspace) -> dict[str, Any]:
    workspace = change_workspace(sv, caller.workspace_id, body, caller.actor)
    return workspace_view(sv, workspace, with_secret=False)
