"""The suppression list: addresses, domains and LinkedIn profiles the workspace never writes to."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from plera.api.auth import CallerDep
from plera.api.deps import IdPath, PagingDep, ServicesDep, parse_id
from plera.api.models import Instant, Page
from plera.api.problems import responses
from plera.commands.suppressions import (
    AddSuppression,
    SuppressionKind,
    SuppressionSource,
    add_suppression,
    lift_suppression,
    list_suppressions,
)

router = APIRouter(prefix="/suppressions", tags=["suppressions"], responses=responses(401, 422))


class SuppressionOut(BaseModel):
    id: UUID = Field(description="derived from (kind, value): adding a lifted entry again gives it the same id")
    kind: SuppressionKind
    value: str = Field(
        description="normalised: a lower-case email address; a lower-case domain without `@`;"
        " a LinkedIn URL without scheme, www, query or trailing slash (linkedin.com/in/…)"
    )
    reason: str | None
    source: SuppressionSource = Field(description="manual (this API), unsubscribe, hard_bounce or complaint")
    created_at: Instant
    lead_id: UUID | None = Field(description="the lead whose unsubscribe or bounce added it")


def _suppression_id(suppression_id: IdPath) -> UUID:
    return parse_id(suppression_id, "suppression")


SuppressionId = Annotated[UUID, Depends(_suppression_id)]


@router.get(
    "",
    response_model=Page[SuppressionOut],
    summary="List the suppressions, oldest first",
    description="Read from the event store, so an entry is listed as soon as it is added.",
)
def get_suppressions(
    sv: ServicesDep,
    caller: CallerDep,
    page: PagingDep,
    kind: Annotated[SuppressionKind | None, Query(description="only entries of this kind")] = None,
) -> dict[str, Any]:
    return list_suppressions(sv, caller.workspace_id, kind=kind, limit=page.limit, cursor=page.cursor)


@router.post(
    "",
    status_code=201,
    response_model=SuppressionOut,
    summary="Suppress an email address, a domain or a LinkedIn profile",
    description=(
        "201 with the new entry. Adding a (kind, value) that is listed already changes nothing and"
        " answers 200 with the existing entry. A domain suppresses its subdomains too. A value that"
        " does not look like its kind is 422 `invalid_email`, `invalid_domain` or `invalid_linkedin_url`."
    ),
    responses={200: {"description": "already listed: the existing entry", "model": SuppressionOut}},
)
def post_suppression(sv: ServicesDep, caller: CallerDep, body: AddSuppression, response: Response) -> dict[str, Any]:
    added = add_suppression(sv, caller.workspace_id, body, caller.actor)
    if not added.created:
        response.status_code = 200
    return added.entry


@router.delete(
    "/{suppression_id}",
    status_code=204,
    response_class=Response,
    summary="Lift a suppression",
    description="204 with no body. The person is written to again; enrollments stopped by an unsubscribe stay"
    " stopped. An id that is not listed (or lifted already, or another workspace's) is 404.",
    responses=responses(404),
)
def delete_suppression(sv: ServicesDep, caller: CallerDep, suppression_id: SuppressionId) -> Response:
    lift_suppression(sv, caller.workspace_id, suppression_id, caller.actor)
    return Response(status_code=204)
