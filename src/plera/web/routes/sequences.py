"""Sequences: every sequence of the active runs with its headline counts, and each sequence's page.

The list reads the same read model as GET /v1/runs (run_overview). A sequence's own page (builder,
Messaging Lab, dashboard, its leads) is still to come: for now it says so, in the layout.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from plera.aggregates.run import Run
from plera.aggregates.sequence import Sequence
from plera.projections.run_overview import runs_overview
from plera.web.pages import ServicesPage, ViewerDep, render
from plera.web.routes.runs import PAGE, parse_id, with_rates

router = APIRouter(include_in_schema=False)


@router.get("/sequences")
def sequences_page(request: Request, sv: ServicesPage, viewer: ViewerDep) -> HTMLResponse:
    with sv.db.pool.connection() as conn:
        runs = runs_overview(conn, viewer.workspace_id, status="active", limit=PAGE)["items"]
    for run in runs:
        run["sequences"] = [with_rates(s) for s in run["sequences"]]
    return render(
        request, "sequences/list.html", title="Sequences", crumbs=[("Sequences", None)], nav="sequences", runs=runs
    )


@router.get("/sequences/{sequence_id}")
def sequence_page(request: Request, sv: ServicesPage, viewer: ViewerDep, sequence_id: str) -> HTMLResponse:
    sequence = sv.events.get(parse_id(sequence_id, "sequence"), Sequence, viewer.workspace_id)
    run = sv.events.get(sequence.run_id, Run, viewer.workspace_id)
    return render(
        request,
        "soon.html",
        title=sequence.name,
        crumbs=[("Runs", "/runs"), (run.name, f"/runs/{run.id}"), (sequence.name, None)],
        nav="sequences",
        text="This sequence's page (the Messaging Lab and the dashboard) is coming soon. Meanwhile, use the API.",
    )
