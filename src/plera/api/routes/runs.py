"""Runs: the campaigns that source groups and sequences belong to."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel

from plera.aggregates.run import Run
from plera.api.auth import CallerDep
from plera.api.deps import PagingDep, RunId, ServicesDep, catalog_page
from plera.api.models import Listed, Page
from plera.api.problems import responses
from plera.commands.runs import CreateRun, archive_run, create_run, run_view

router = APIRouter(prefix="/runs", tags=["runs"], responses=responses(401, 422))

RunStatus = Literal["active", "archived"]


class RunOut(BaseModel):
    id: UUID
    name: str
    status: RunStatus
    play_id: str | None = None


class RunItem(RunOut, Listed):
    pass


@router.post("", status_code=201, response_model=RunOut, summary="Create a run")
def post_run(sv: ServicesDep, caller: CallerDep, body: CreateRun) -> dict[str, Any]:
    return run_view(create_run(sv, caller.workspace_id, body, caller.actor))


@router.get("", response_model=Page[RunItem], summary="List runs, oldest first")
def list_runs(
    sv: ServicesDep, caller: CallerDep, page: PagingDep, status: Annotated[RunStatus | None, Query()] = None
) -> dict[str, Any]:
    return catalog_page(sv, caller.workspace_id, "run", page, status=status)


@router.get("/{run_id}", response_model=RunOut, summary="A run", responses=responses(404))
def get_run(sv: ServicesDep, caller: CallerDep, run_id: RunId) -> dict[str, Any]:
    return run_view(sv.events.get(run_id, Run, caller.workspace_id))


@router.post(
    "/{run_id}/archive", response_model=RunOut, summary="Archive a run (repeating is a no-op)", responses=responses(404)
)
def post_archive(sv: ServicesDep, caller: CallerDep, run_id: RunId) -> dict[str, Any]:
    return run_view(archive_run(sv, caller.workspace_id, run_id, caller.actor))
