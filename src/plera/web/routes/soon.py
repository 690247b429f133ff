"""Areas of the navigation whose pages are still to come (Web app I and II): they say so, in the layout."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from plera.web.pages import ViewerDep, render

router = APIRouter(include_in_schema=False)

_AREAS = {
    "inbox": ("Inbox", "The unified inbox is coming soon: replies from every sequence, threaded by lead."),
    "settings": (
        "Settings",
        "Workspace settings are coming soon: sending window, days, holidays, people and API keys.",
    ),
}


def _page(request: Request, area: str) -> HTMLResponse:
    title, text = _AREAS[area]
    return render(request, "soon.html", title=title, crumbs=[(title, None)], nav=area, text=text)


@router.get("/inbox")
def inbox(request: Request, viewer: ViewerDep) -> HTMLResponse:
    return _page(request, "inbox")


@router.get("/settings")
def settings(request: Request, viewer: ViewerDep) -> HTMLResponse:
    return _page(request, "settings")
