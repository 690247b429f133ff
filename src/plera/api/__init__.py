"""The HTTP API: FastAPI app, one router per resource, auth and tenancy, problem-details errors."""

from plera.api.app import create_app

__all__ = ["create_app"]
