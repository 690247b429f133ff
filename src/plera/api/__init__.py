"""The HTTP API: FastAPI app, one router per resource, auth and tenancy, problem-details errors."""

from plera.api.app import app_from_environment, create_app

__all__ = ["app_from_environment", "create_app"]
