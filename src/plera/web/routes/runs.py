"""Runs: the list and create, and a run's page (its sequences with their counts, its source groups).

The same commands and read models as api/routes/runs.py: create_run, the catalog and run_overview.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from plera.aggregates.errors import DomainError, NotFound
from plera.aggregates.lead import SourceGroup
from plera.aggregates.run import Run
from plera.commands.lead_views import list_group_leads
from plera.commands.runs import CreateRun, archive_run, create_run
from plera.projections.catalog import list_items
from plera.projections.run_overview import run_sequences
from plera.runtime import Services
from plera.web.errors import message_for
from plera.web.pages import ServicesPage, ViewerDep, render, templates

router = APIRouter(include_in_schema=False)
PAGE = 100


def parse_id(raw: str, kind: str) -> UUID:
    try:
        return UUID(raw)
    except ValueError:
        raise NotFound(f"no {kind} {raw!r}") from None


@router.get("/runs")
def runs_page(request: Request, sv: ServicesPage, viewer: ViewerDep, status: str = "active") -> HTMLResponse:
    return _runs(request, sv, viewer.workspace_id, shown=status if status in ("active", "archived") else "active")


@router.post("/runs")
def create_run_page(
    request: Request, sv: ServicesPage, viewer: ViewerDep, name: Annotated[str, Form(max_length=1000)] = ""
) -> Response:
    try:
        run = create_run(sv, viewer.workspace_id, CreateRun(name=name.strip()), viewer.actor)
    except (DomainError, ValidationError) as e:
        return _runs(request, sv, viewer.workspace_id, shown="active", error=message_for(e), name=name)
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


def _runs(
    request: Request, sv: Services, workspace_id: UUID, *, shown: str, error: str = "", name: str = ""
) -> HTMLResponse:
    with sv.db.pool.connection() as conn:
        runs = list_items(conn, workspace_id, "run", limit=PAGE, status=shown)["items"]
    return render(
        request,
        "runs/list.html",
        title="Runs",
        crumbs=[("Runs", None)],
        nav="runs",
        status=422 if error else 200,
        runs=runs,
        shown=shown,
        error=error,
        name=name,
    )


@router.get("/runs/{run_id}")
def run_page(request: Request, sv: ServicesPage, viewer: ViewerDep, run_id: str) -> HTMLResponse:
    run = sv.events.get(parse_id(run_id, "run"), Run, viewer.workspace_id)  # another workspace's: 404
    with sv.db.pool.connection() as conn:
        found = run_sequences(conn, viewer.workspace_id, run.id, limit=PAGE)
        groups = list_items(conn, viewer.workspace_id, "source_group", limit=PAGE, parent_id=run.id)["items"]
    sequences = [with_rates(s) for s in (found["items"] if found else [])]
    return render(
        request,
        "runs/show.html",
        title=run.name,
        crumbs=[("Runs", "/runs"), (run.name, None)],
        nav="runs",
        run=run,
        sequences=sequences,
        groups=groups,
    )


@router.post("/runs/{run_id}/archive")
def archive_run_page(request: Request, sv: ServicesPage, viewer: ViewerDep, run_id: str) -> Response:
    """Archives the run; an htmx request gets the run's new status in place, a plain form the run's page."""
    run = archive_run(sv, viewer.workspace_id, parse_id(run_id, "run"), viewer.actor)
    if request.headers.get("HX-Request"):
        return templates.TemplateResponse(
            request, "runs/_status.html", {"run": run, "csrf_token": viewer.csrf_token, "done": "Run archived."}
        )
    return RedirectResponse(f"/runs/{run.id}", status_code=303)


def with_rates(sequence: dict[str, Any]) -> dict[str, Any]:
    """The step count and the reply rate (replied ÷ sent, as the dashboard reckons it)."""
    sent = sequence.get("sent", 0)
    rate = sequence.get("replied", 0) / sent if sent else None
    return sequence | {"step_count": len(sequence.get("steps") or []), "reply_rate": rate}


@router.get("/source-groups/{group_id}/leads")
def group_leads_page(
    request: Request, sv: ServicesPage, viewer: ViewerDep, group_id: str, q: str = "", cursor: str | None = None
) -> HTMLResponse:
    group = sv.events.get(parse_id(group_id, "source group"), SourceGroup, viewer.workspace_id)
    run = sv.events.get(group.run_id, Run, viewer.workspace_id)
    page = list_group_leads(sv, viewer.workspace_id, group.id, q=q.strip()[:200] or None, limit=PAGE, cursor=cursor)
    return render(
        request,
        "runs/leads.html",
        title=f"Leads of {group.name}",
        crumbs=[("Runs", "/runs"), (run.name, f"/runs/{run.id}"), (group.name, None)],
        nav="runs",
        group=group,
        run=run,
        leads=page["items"],
        next_cursor=page["next_cursor"],
        q=q,
    )
