"""Source groups of a run, and importing leads into them (JSON or CSV, idempotent)."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from plera.aggregates.errors import InvalidValue
from plera.aggregates.lead import LEAD_FIELDS
from plera.aggregates.run import Run
from plera.api.auth import Caller, CallerDep
from plera.api.deps import GroupId, PagingDep, RunId, ServicesDep, catalog_page
from plera.api.limits import MAX_BODY_BYTES
from plera.api.models import Instant, Listed, Page
from plera.api.problems import ApiError, PayloadTooLarge, responses
from plera.api.routes.leads import LeadFields
from plera.commands import import_job_store
from plera.commands.import_jobs import check_header, start_upload
from plera.commands.lead_import import ParsedRows, parse_csv, parse_json_rows
from plera.commands.lead_views import list_group_leads
from plera.commands.models import NO_CONTROL
from plera.commands.source_groups import CreateSourceGroup, create_source_group, import_leads, mark_enriched
from plera.projections.leads import MAX_QUERY
from plera.runtime import Services
from plera.text import has_control

router = APIRouter(tags=["source groups"], responses=responses(401, 404, 422))


class SourceGroupOut(BaseModel):
    id: UUID
    run_id: UUID
    name: str


class SourceGroupItem(SourceGroupOut, Listed):
    status: Literal["new", "enriched"]
    enriched: bool
    lead_count: int


class Rejected(BaseModel):
    row: int = Field(description="the data row, counted from 1 (the CSV header is not counted)")
    code: str = Field(examples=["missing_contact", "invalid_email", "unknown_field"])
    detail: str


class ImportOut(BaseModel):
    imported: int = Field(description="people new to the workspace")
    existing: int = Field(description="people the workspace already had, now (also) in this group")
    lead_ids: list[UUID] = Field(description="the lead of each accepted row, in row order")
    rejected: list[Rejected]
    enrolled: int = Field(description="enrollments this import started in launched sequences (none in a dry run)")
    ignored_columns: list[str] = Field(description="CSV headers that name no lead field, left out (the first 50)")
    dry_run: bool = Field(description="true: the counts say what the import would do; nothing was recorded")


class GroupLead(LeadFields):
    added_at: Instant = Field(description="when the lead joined this group")


class EnrichedOut(BaseModel):
    id: UUID
    enriched: Literal[True]
    enrolled: int = Field(description="leads this enrolled in the launched sequences that draw on the group")


class LeadsBody(BaseModel):
    """The JSON form of an import. Each row is checked on its own; a bad row is rejected, not the import."""

    model_config = ConfigDict(extra="forbid")

    leads: list[Any]


_LEAD_ROW = {
    "type": "object",
    "properties": {name: {"type": ["string", "null"]} for name in LEAD_FIELDS},
    # Rows are checked one by one: a row with another member is rejected (unknown_field), not the import.
    "description": "a lead needs an email or a LinkedIn URL; blank fields count as missing; a row with"
    " another member is rejected with code unknown_field",
}
_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["leads"],
                    "properties": {"leads": {"type": "array", "items": _LEAD_ROW}},
                    "additionalProperties": False,
                }
            },
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": f"UTF-8, a header row naming some of: {', '.join(LEAD_FIELDS)}, in any case"
                    " and spacing, or by their usual names (First Name, E-mail, LinkedIn, Company Name, Job Title,"
                    " Time zone); other columns are left out and listed in ignored_columns",
                },
                "example": "email,first_name,company\nada@example.com,Ada,Analytical Engines\n",
            },
        },
    }
}


@router.post(
    "/runs/{run_id}/source-groups",
    status_code=201,
    response_model=SourceGroupOut,
    summary="Create a source group (409 run_archived when its run is archived)",
    responses=responses(409),
)
def post_source_group(sv: ServicesDep, caller: CallerDep, run_id: RunId, body: CreateSourceGroup) -> dict[str, Any]:
    group = create_source_group(sv, caller.workspace_id, run_id, body, caller.actor)
    return {"id": group.id, "run_id": group.run_id, "name": group.name}


@router.get("/runs/{run_id}/source-groups", response_model=Page[SourceGroupItem], summary="List a run's source groups")
def list_source_groups(sv: ServicesDep, caller: CallerDep, run_id: RunId, page: PagingDep) -> dict[str, Any]:
    run = sv.events.get(run_id, Run, caller.workspace_id)
    return catalog_page(sv, caller.workspace_id, "source_group", page, parent_id=run.id)


class ImportJobAccepted(BaseModel):
    job_id: UUID
    status: Literal["queued"]
    progress_url: str = Field(description="GET it for the job's progress: /v1/import-jobs/{job_id}")


_IMPORT_DESCRIPTION = """\
JSON, and a CSV of up to 1,000 data rows and 1 MB, are imported at once: 200 with the counts and
the rejected rows. A larger CSV (up to 100 MB), or any CSV with `?async=true`, is uploaded and
imported by a job: 202 `{job_id, status: "queued", progress_url}`; `GET /v1/import-jobs/{id}` shows
its progress and counts, `GET /v1/import-jobs/{id}/rejected` its rejected rows as CSV once done. A
dry run is always answered at once (up to 10 MB)."""


@router.post(
    "/source-groups/{group_id}/leads",
    response_model=ImportOut,
    summary="Import leads (JSON or CSV); importing the same people again links them, never copies",
    description=_IMPORT_DESCRIPTION,
    openapi_extra=_IMPORT_BODY,
    responses={**responses(409, 413, 415), 202: {"model": ImportJobAccepted, "description": "a large CSV: a job"}},
)
async def post_leads(
    request: Request,
    sv: ServicesDep,
    caller: CallerDep,
    group_id: GroupId,
    content_type: Annotated[str | None, Header(include_in_schema=False)] = None,
    dry_run: Annotated[
        bool, Query(description="answer what would be imported, linked and rejected, and record nothing")
    ] = False,
    as_job: Annotated[bool, Query(alias="async", description="import a CSV as a job, whatever its size")] = False,
) -> Any:
    media, params = _media_type(content_type or "")
    if media != "text/csv":
        body = await _read_whole(request.stream(), b"")
        return await run_in_threadpool(_import_now, sv, caller, group_id, content_type, body, dry_run)
    if params.get("charset", "utf-8") not in ("utf-8", "utf8", "us-ascii"):
        raise ApiError(415, "unsupported_media_type", "send the CSV as UTF-8 (charset=utf-8)")
    stream = request.stream()
    first, ended = await _read_first(stream, sv.settings.import_job_bytes)
    if dry_run or (ended and not as_job and _data_rows(first) <= sv.settings.import_job_rows):
        body = first if ended else await _read_whole(stream, first)
        return await run_in_threadpool(_import_now, sv, caller, group_id, content_type, body, dry_run)
    job_id = await _upload(sv, caller, group_id, first, ended, stream)
    return JSONResponse(
        {"job_id": str(job_id), "status": "queued", "progress_url": f"/v1/import-jobs/{job_id}"}, status_code=202
    )


def _import_now(
    sv: Services, caller: Caller, group_id: UUID, content_type: str | None, body: bytes, dry_run: bool
) -> dict[str, Any]:
    parsed = _parse_rows(content_type, body)
    return import_leads(sv, caller.workspace_id, group_id, parsed, caller.actor, dry_run=dry_run).as_dict()


async def _read_first(stream: AsyncIterator[bytes], size: int) -> tuple[bytes, bool]:
    """The body's first `size` bytes or more, and whether that is all of it."""
    first = bytearray()
    async for piece in stream:
        first += piece
        if len(first) > size:
            return bytes(first), False
    return bytes(first), True


async def _read_whole(stream: AsyncIterator[bytes], first: bytes) -> bytes:
    """A body read whole: at most 10 MB, as every other body (this route alone may stream more)."""
    body = bytearray(first)
    async for piece in stream:
        body += piece
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(MAX_BODY_BYTES)
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(MAX_BODY_BYTES)
    return bytes(body)


def _data_rows(first: bytes) -> int:
    """The data rows of a small CSV (a broken one counts as small: the import at once says what is wrong)."""
    try:
        return sum(1 for _ in csv.reader(io.StringIO(first.decode("utf-8-sig"), newline=""))) - 1
    except (UnicodeDecodeError, csv.Error):
        return 0


async def _upload(
    sv: Services, caller: Caller, group_id: UUID, first: bytes, ended: bool, stream: AsyncIterator[bytes]
) -> UUID:
    """Streams the CSV into a new job, a megabyte at a time, checking it is UTF-8 with a lead header
    as it goes; anything refused or cut off leaves nothing behind. Then the job is queued."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    received = 0

    def checked(piece: bytes, final: bool = False) -> str:
        try:
            return decoder.decode(piece, final)
        except UnicodeDecodeError as e:
            at = received - len(piece) - len(decoder.getstate()[0]) + e.start
            raise InvalidValue(f"the CSV is not UTF-8 (byte {max(at, 0)} cannot be read)") from None

    received = len(first)
    check_header(checked(first, ended).removeprefix("\ufeff"))
    job_id = await run_in_threadpool(start_upload, sv, caller.workspace_id, group_id, caller.actor)
    try:
        seq, pending = 0, bytearray(first)
        if not ended:
            async for piece in stream:
                received += len(piece)
                checked(piece)
                pending += piece
                if len(pending) >= _UPLOAD_CHUNK:
                    await run_in_threadpool(import_job_store.add_chunk, sv.db.pool, job_id, seq, bytes(pending))
                    seq, pending = seq + 1, bytearray()
            checked(b"", True)
        if pending:
            await run_in_threadpool(import_job_store.add_chunk, sv.db.pool, job_id, seq, bytes(pending))
        await run_in_threadpool(import_job_store.queue, sv.db.pool, job_id)
    except BaseException:
        await run_in_threadpool(import_job_store.drop, sv.db.pool, job_id)
        raise
    return job_id


_UPLOAD_CHUNK = 1024 * 1024


@router.get(
    "/source-groups/{group_id}/leads",
    response_model=Page[GroupLead],
    summary="List the group's leads in the order they joined it; `q` searches name, email and company",
    description="Read from the read models: a lead imported a moment ago may take a moment to be listed.",
)
def get_group_leads(
    sv: ServicesDep,
    caller: CallerDep,
    group_id: GroupId,
    page: PagingDep,
    q: Annotated[
        str | None,
        Query(
            max_length=MAX_QUERY,
            description="part of a name, email or company, in any case; no control characters",
            json_schema_extra={"pattern": NO_CONTROL},  # what has_control refuses, as the schema says it
        ),
    ] = None,
) -> dict[str, Any]:
    if q is not None and has_control(q):
        msg = "q must not contain control characters"
        raise RequestValidationError([{"loc": ("query", "q"), "msg": msg, "type": "value_error"}])
    return list_group_leads(sv, caller.workspace_id, group_id, q=q, limit=page.limit, cursor=page.cursor)


@router.post(
    "/source-groups/{group_id}/mark-enriched",
    response_model=EnrichedOut,
    summary="Make the group eligible; its leads join the launched sequences that draw on it",
    responses=responses(409),
)
def post_mark_enriched(sv: ServicesDep, caller: CallerDep, group_id: GroupId) -> dict[str, Any]:
    enrolled = mark_enriched(sv, caller.workspace_id, group_id, caller.actor)
    return {"id": group_id, "enriched": True, "enrolled": enrolled}


def _parse_rows(content_type: str | None, body: bytes) -> ParsedRows:
    media, params = _media_type(content_type or "")
    if media == "text/csv":
        if params.get("charset", "utf-8") not in ("utf-8", "utf8", "us-ascii"):
            raise ApiError(415, "unsupported_media_type", "send the CSV as UTF-8 (charset=utf-8)")
        return parse_csv(body)
    if media == "application/json" or (media.startswith("application/") and media.endswith("+json")):
        try:
            leads = LeadsBody.model_validate_json(body).leads
        except ValidationError as e:
            raise RequestValidationError([{**err, "loc": ("body", *err["loc"])} for err in e.errors()]) from None
        return parse_json_rows(leads)
    raise ApiError(
        415, "unsupported_media_type", 'send the leads as application/json ({"leads": [...]}) or as text/csv'
    )


def _media_type(header: str) -> tuple[str, dict[str, str]]:
    media, *rest = header.split(";")
    params = {}
    for part in rest:
        name, _, value = part.partition("=")
        params[name.strip().lower()] = value.strip().strip('"').lower()
    return media.strip().lower(), params
