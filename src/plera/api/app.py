"""The FastAPI application: /healthz, /readyz and /metrics at the root, everything else under /v1 with a key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi

from plera.api import docs, problems
from plera.api.limits import MAX_BODY_BYTES, BodyLimit
from plera.api.routes import (
    dev,
    enrollments,
    health,
    inbox,
    leads,
    messaging,
    metrics,
    runs,
    sender_accounts,
    sequences,
    source_groups,
    strategy_profiles,
    subscribers,
    suppressions,
    unsubscribe,
    webhooks,
    workspace,
)
from plera.consumers.lag import PipelineMonitor
from plera.runtime import Services

_DESCRIPTION = """\
Plera Sequences: multi-step, multi-channel outreach.

Every path under `/v1` needs `Authorization: Bearer <api_key>` and sees only that key's workspace;
a resource of another workspace answers 404. The exception is `/v1/asyncapi.json`, the public schema
of the Kafka topics. `/healthz`, `/readyz` and `/metrics` are at the root, without a key. Times are ISO 8601 in UTC. Lists take `limit`
(1 to 500, default 50) and `cursor`, and answer `{items, next_cursor}`. Lists read read models,
which follow commands within moments.

Errors are `application/problem+json` (RFC 9457) with `type`, `title`, `status`, `detail` and a
stable `code`. Bodies over 10 MB answer 413.
"""


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    app.state.monitor.close()


def app_from_environment() -> FastAPI:
    """The API alone, on the PLERA_* settings of the environment, to serve it from several processes:
    `uvicorn plera.api:app_from_environment --factory --workers N`, beside `plera worker` and a feed."""
    return create_app(Services.open())


def create_app(sv: Services) -> FastAPI:
    app = FastAPI(
        title="Plera Sequences",
        version="1",
        description=_DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        lifespan=_lifespan,
    )
    app.state.services = sv
    app.state.monitor = PipelineMonitor(sv.settings.kafka_bootstrap)
    problems.install(app)
    app.add_middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)

    app.include_router(health.router)
    app.include_router(metrics.router)
    docs.install(app)
    v1 = APIRouter(prefix="/v1")
    # Routes are tried in order, a few µs each: behind 52 others, a webhook delivery spent a tenth
    # of its CPU finding its route. The providers' webhooks, the API's busiest path, come first.
    for module in (
        webhooks,
        workspace,
        runs,
        source_groups,
        sender_accounts,
        strategy_profiles,
        sequences,
        messaging,
        enrollments,
        leads,
        inbox,
        subscribers,
        dev,
        suppressions,
        unsubscribe,
    ):
        v1.include_router(module.router)
    app.include_router(v1)

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema, plus the Problem schema that every error response refers to."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        problem = problems.Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(problem.pop("$defs", {}))
        components["Problem"] = problem
        app.openapi_schema = schema
    return app.openapi_schema
