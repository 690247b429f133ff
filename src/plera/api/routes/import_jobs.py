"""Import jobs: a large CSV import's progress, counts and rejected rows (decision 0016)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from plera.api.auth import CallerDep
from plera.api.deps import IdPath, ServicesDep, parse_id
from plera.api.models import Instant
from plera.api.problems import responses
from plera.commands.import_jobs import job_view, rejected_csv

router = APIRouter(tags=["source groups"], responses=responses(401, 404, 422))  # 422: a job id that is not one


def _job_id(job_id: IdPath) -> UUID:
    return parse_id(job_id, "import job")


JobId = Annotated[UUID, Depends(_job_id)]


class ImportJobOut(BaseModel):
    id: UUID
    source_group_id: UUID
    status: Literal["queued", "running", "done", "failed"]
    rows_total: int | None = Field(description="the file's data rows; null until the job has read it")
    rows_done: int = Field(description="rows decided so far (imported, linked or rejected)")
    imported: int = Field(description="people new to the workspace")
    existing: int = Field(description="people the workspace already had, now (also) in this group")
    rejected_count: int
    enrolled: int = Field(description="enrollments this import started in launched sequences")
    ignored_columns: list[str] = Field(description="CSV headers that name no lead field, left out (the first 50)")
    created_at: Instant
    started_at: Instant | None
    finished_at: Instant | None
    error: str | None = Field(description="why a failed job failed (a broken file, a closed run); rows before it stay")
    progress_url: str
    rejected_url: str = Field(description="the rejected rows as CSV, once the job is done")


@router.get("/import-jobs/{job_id}", response_model=ImportJobOut, summary="An import job's progress and counts")
def get_import_job(sv: ServicesDep, caller: CallerDep, job_id: JobId) -> dict[str, Any]:
    return job_view(sv, caller.workspace_id, job_id)


@router.get(
    "/import-jobs/{job_id}/rejected",
    summary="An import job's rejected rows as CSV: row, code, detail and the row's cells as written",
    responses={**responses(409), 200: {"content": {"text/csv": {}}}},
    response_class=StreamingResponse,
)
def get_rejected_rows(sv: ServicesDep, caller: CallerDep, job_id: JobId) -> StreamingResponse:
    lines = rejected_csv(sv, caller.workspace_id, job_id)
    return StreamingResponse(lines, media_type="text/csv; charset=utf-8")
