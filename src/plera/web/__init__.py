"""The web app for people: server-rendered pages beside the API (`/` the app, `/v1` the API).

One module per area in routes/, like api/routes/; templates/ and static/ ship in the wheel. Pages call
the same commands and read the same read models as the API: no rule lives only in a page.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from plera.web import errors
from plera.web.routes import auth, lab, runs, senders, sequences, soon
from plera.web.security import SecurityHeaders

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Adds the pages, their static files, their error pages and the browser policy to the API's app."""
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # sequences, lab and senders before runs and soon: their pages replace those placeholders
    for module in (auth, sequences, lab, senders, runs, soon):
        app.include_router(module.router)
    errors.install(app)
    app.add_middleware(SecurityHeaders)
