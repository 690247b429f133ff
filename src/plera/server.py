"""The one app that `plera up` serves: the API (`/v1`, /docs) and the web app for people (`/`)."""

from __future__ import annotations

from fastapi import FastAPI

from plera import web
from plera.api.app import create_app
from plera.runtime import Services


def create_server(sv: Services) -> FastAPI:
    app = create_app(sv)
    web.install(app)
    return app


def server_from_environment() -> FastAPI:
    """`uvicorn plera.server:server_from_environment --factory`: API and pages on the PLERA_* settings."""
    return create_server(Services.open())
