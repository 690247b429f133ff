"""Source groups of a run, and importing leads into them (JSON or CSV, idempotent)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from plera.aggregates.lead import LEAD_FIELDS
from plera.aggregates.run import Run
from plera.api.auth import CallerDep
from plera.api.deps import GroupId, PagingDep, RunId, ServicesDep, catalog_page
from plera.api.models import Instant, Listed, Page
from plera.api.problems import ApiError, responses
from plera.api.routes.leads import LeadFields
from plera.commands.lead_import import ParsedRows, parse_csv, parse_json_rows
from plera.commands.lead_views import list_group_leads
from plera.commands.models import NO_CONTROL
from plera.commands.source_groups import CreateSourceGroup, create_source_group, import_leads, mark_enriched
from plera.projections.leads import MAX_QUERY
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


async def _raw_body(request: Request) -> bytes:
    return await request.body()  # at most 10 MB: the BodyLimit middleware sees to it


@router.post(
    "/source-groups/{group_id}/leads",
    response_model=ImportOut,
    summary="Import leads (JSON or CSV); importing the same people again links them, never copies",
    openapi_extra=_IMPORT_BODY,
    responses=responses(409, 413, 415),
)
def post_leads(
    sv: ServicesDep,
    caller: CallerDep,
    group_id: GroupId,
    body: Annotated[bytes, Depends(_raw_body)],
    content_type: Annotated[str | None, Header(include_in_schema=False)] = None,
    dry_run: Annotated[
        bool, Query(description="answer what would be imported, linked and rejected, and record nothing")
    ] = False,
) -> dict[str, Any]:
    parsed = _parse_rows(content_type, body)
    return import_leads(sv, caller.workspace_id, group_id, parsed, caller.actor, dry_run=dry_run).as_dict()


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
