"""Runs: the campaigns that source groups and sequences belong to."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from plera.aggregates.run import Run
from plera.api.auth import CallerDep
from plera.api.deps import Paging, PagingDep, RunId, ServicesDep, catalog_page
from plera.api.models import Listed, Page
from plera.api.problems import responses
from plera.commands.runs import CreateRun, archive_run, create_run, run_view
from plera.commands.workspaces import Caller
from plera.projections.run_overview import run_sequences
from plera.runtime import Services

router = APIRouter(prefix="/runs", tags=["runs"], responses=responses(401, 422))

RunStatus = Literal["active", "archived"]


class RunOut(BaseModel):
    id: UUID
    name: str
    status: RunStatus
    play_id: str | None = None


class RunItem(RunOut, Listed):
    pass


class HeadlineCounts(BaseModel):
    enrolled: int = Field(description="leads enrolled")
    active: int = Field(description="leads still going (open, not paused)")
    replied: int = Field(description="leads who replied")
    sent: int = Field(description="messages sent")


class RunSequenceItem(HeadlineCounts, Listed):
    id: UUID
    name: str
    status: Literal["draft", "active", "paused", "completed", "archived"]


class RunSequencesPage(Page[RunSequenceItem]):
    totals: HeadlineCounts = Field(description="over every sequence of the run, not only this page's")


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


@router.get(
    "/{run_id}/sequences",
    response_model=RunSequencesPage,
    summary="The run's sequences, oldest first, with their headline counts",
    responses=responses(404),
)
def get_run_sequences(sv: ServicesDep, caller: CallerDep, run_id: RunId, page: PagingDep) -> dict[str, Any]:
    return _run_sequences(sv, caller, run_id, page)


@router.post(
    "/{run_id}/archive", response_model=RunOut, summary="Archive a run (repeating is a no-op)", responses=responses(404)
)
def post_archive(sv: ServicesDep, caller: CallerDep, run_id: RunId) -> dict[str, Any]:
    return run_view(archive_run(sv, caller.workspace_id, run_id, caller.actor))


def _run_sequences(sv: Services, caller: Caller, run_id: UUID, page: Paging) -> dict[str, Any]:
    with sv.db.pool.connection() as conn:
        found = run_sequences(conn, caller.workspace_id, run_id, limit=page.limit, cursor=page.cursor)
    if found is None:
        sv.events.get(run_id, Run, caller.workspace_id)  # another workspace's: 404
        # The read models have not caught up with this run yet.
        return {"items": [], "next_cursor": None, "totals": {"enrolled": 0, "active": 0, "replied": 0, "sent": 0}}
    return found
