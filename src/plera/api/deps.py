"""What handlers share: the services, path ids, paging and catalog pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, Path, Query, Request

from plera.aggregates.errors import NotFound
from plera.consumers.lag import PipelineMonitor
from plera.projections.catalog import list_items
from plera.runtime import Services

MAX_PAGE = 500


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_monitor(request: Request) -> PipelineMonitor:
    monitor: PipelineMonitor = request.app.state.monitor
    return monitor


MonitorDep = Annotated[PipelineMonitor, Depends(get_monitor)]

# Path ids are read as text and parsed by a dependency: an id that is no UUID names no resource,
# so it answers 404, and before the body is validated, whatever the body holds.
IdPath = Annotated[str, Path(description="the resource's id (a UUID)", json_schema_extra={"format": "uuid"})]


def parse_id(raw: str, kind: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise NotFound(f"no {kind} {raw!r}") from None


def _run_id(run_id: IdPath) -> UUID:
    return parse_id(run_id, "run")


def _group_id(group_id: IdPath) -> UUID:
    return parse_id(group_id, "source group")


def _sender_id(sender_id: IdPath) -> UUID:
    return parse_id(sender_id, "sender account")


def _sequence_id(sequence_id: IdPath) -> UUID:
    return parse_id(sequence_id, "sequence")


def _enrollment_id(enrollment_id: IdPath) -> UUID:
    return parse_id(enrollment_id, "enrollment")


def _lead_id(lead_id: IdPath) -> UUID:
    return parse_id(lead_id, "lead")


RunId = Annotated[UUID, Depends(_run_id)]
GroupId = Annotated[UUID, Depends(_group_id)]
SenderId = Annotated[UUID, Depends(_sender_id)]
SequenceId = Annotated[UUID, Depends(_sequence_id)]
EnrollmentId = Annotated[UUID, Depends(_enrollment_id)]
LeadId = Annotated[UUID, Depends(_lead_id)]


@dataclass(frozen=True)
class Paging:
    limit: int
    cursor: str | None


def paging(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="items per page")] = 50,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,  # a cursor this API gives out is about 100 characters of base64
            description="next_cursor of the previous page",
            json_schema_extra={"pattern": "^[A-Za-z0-9_=-]+$"},
        ),
    ] = None,
) -> Paging:
    return Paging(limit=limit, cursor=cursor)


PagingDep = Annotated[Paging, Depends(paging)]


def catalog_page(
    sv: Services,
    workspace_id: UUID,
    kind: str,
    page: Paging,
    *,
    status: str | None = None,
    parent_id: UUID | None = None,
) -> dict[str, Any]:
    """A page of the catalog read model: {items, next_cursor}. Eventually consistent with commands."""
    with sv.db.pool.connection() as conn:
        return list_items(
            conn, workspace_id, kind, limit=page.limit, cursor=page.cursor, status=status, parent_id=parent_id
        )
