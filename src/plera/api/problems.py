"""The one place where errors become RFC 9457 problem details (`application/problem+json`).

Every error answer carries `type`, `title`, `status`, `detail` and a stable `code`. The `type`
is the relative URI `/problems/<code>`, so it is stable across deployments; integrators match
on `code`. Bad input is a 4xx; a 500 answers only what we did not foresee, and tells nothing
of it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import psycopg
from eventsourcing.persistence import IntegrityError
from eventsourcing.persistence import OperationalError as StoreOperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException

from plera.aggregates.errors import DomainError, LaunchBlocked
from plera.channels.email import SendFailed
from plera.messaging.drafting import DraftingFailed
from plera.projections.catalog import BadCursor

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"

# Codes of the HTTP-level answers that the framework raises as HTTPException.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class ProblemError(BaseModel):
    loc: list[str | int] = Field(description="where in the request, e.g. ['body', 'steps', 0, 'channel']")
    msg: str
    type: str = Field(description="the kind of error, e.g. missing, literal_error, extra_forbidden")


class Problem(BaseModel):
    """An error answer (RFC 9457). `code` is stable; `detail` is for people."""

    type: str = Field(examples=["/problems/not_found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["no sequence 0b7f6a1e-6c1e-4b43-9b1a-3f1d4f2f0a11"])
    code: str = Field(examples=["not_found"])
    errors: list[ProblemError] | None = Field(default=None, description="for invalid_request: each bad field")
    findings: list[dict[str, Any]] | None = Field(
        default=None, description="for launch_blocked: the blocking readiness findings"
    )


class ApiError(Exception):
    """An error of the HTTP layer itself (no key, wrong media type, database down)."""

    def __init__(self, status: int, code: str, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers


class PayloadTooLarge(HTTPException):
    """Raised while the body streams in; an HTTPException, so the framework's body reader lets it through."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"/problems/{code}",
        "title": code.replace("_", " ").capitalize(),
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers a route may give."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(DraftingFailed, _drafting_failed)
    app.add_exception_handler(SendFailed, _send_failed)
    app.add_exception_handler(RequestValidationError, _request_invalid)
    app.add_exception_handler(ValidationError, _request_invalid)
    app.add_exception_handler(BadCursor, _bad_cursor)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _conflict)
    for unavailable in (StoreOperationalError, psycopg.OperationalError, PoolTimeout):
        app.add_exception_handler(unavailable, _unavailable)
    app.add_exception_handler(Exception, _unexpected)


async def _domain_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    if isinstance(exc, LaunchBlocked):
        return problem(exc.status, exc.code, exc.detail, findings=exc.findings)
    return problem(exc.status, exc.code, exc.detail)


async def _send_failed(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, SendFailed)
    return problem(502, "send_failed", f"the mail server refused the test message: {exc.reason}")


async def _drafting_failed(request: Request, exc: Exception) -> JSONResponse:
    """The AI writer did not deliver: 503 (retry later, maybe after Retry-After) or 502 (bad output)."""
    assert isinstance(exc, DraftingFailed)
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
    return problem(exc.status, exc.code, exc.detail or "the AI writer failed", headers=headers)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return problem(exc.status, exc.code, exc.detail, headers=exc.headers)


async def _request_invalid(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError | ValidationError)
    errors = [
        {"loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())], "msg": e["msg"], "type": e["type"]}
        for e in exc.errors()
    ]
    # Never echo the input: it may hold a password. Only locations and messages go back.
    if any(e["type"] == "json_invalid" for e in errors):
        return problem(422, "invalid_json", "the body is not valid JSON", errors=errors)
    return problem(422, "invalid_request", _summary(errors), errors=errors)


def _summary(errors: Sequence[dict[str, Any]]) -> str:
    if not errors:
        return "the request is invalid"
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "request"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


async def _bad_cursor(request: Request, exc: Exception) -> JSONResponse:
    return problem(422, "invalid_cursor", str(exc))


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        # The framework's 400 for a JSON body that is not UTF-8: malformed JSON like any other (0003).
        return problem(422, "invalid_json", "the body is not valid JSON: it is not UTF-8")
    code = _HTTP_CODES.get(exc.status_code) or _phrase(exc.status_code).lower().replace(" ", "_")
    detail = exc.detail
    if exc.status_code == 404 and detail == HTTPStatus.NOT_FOUND.phrase:
        detail = f"no such resource: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path}"
        return problem(405, code, detail, headers={**(exc.headers or {}), "Allow": _allowed(request, exc)})
    return problem(exc.status_code, code, str(detail), headers=exc.headers)


def _allowed(request: Request, exc: HTTPException) -> str:
    """Every method of the path (RFC 9110, 15.5.6). Each method of a path is a route of its own, and
    the framework's 405 names only the first route that matched: an OPTIONS on /v1/runs said POST
    alone, though GET is served there too. The OpenAPI document knows every method of every path."""
    methods = {m.strip() for m in (exc.headers or {}).get("Allow", "").split(",") if m.strip()}
    for pattern, documented in _methods_by_path(request.app):
        if pattern.fullmatch(request.url.path):
            methods |= documented
    if "GET" in methods:
        methods.add("HEAD")  # served for every GET
    return ", ".join(sorted(methods))


def _methods_by_path(app: FastAPI) -> list[tuple[re.Pattern[str], set[str]]]:
    table: list[tuple[re.Pattern[str], set[str]]] | None = getattr(app.state, "methods_by_path", None)
    if table is None:
        table = [
            (re.compile(re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path))), {m.upper() for m in operations})
            for path, operations in app.openapi()["paths"].items()
        ]
        app.state.methods_by_path = table
    return table


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "http error"


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    return problem(409, "conflict", "the resource was changed by another request meanwhile; retry")


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable during %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return problem(503, "unavailable", "the database is not reachable; retry later", headers={"Retry-After": "5"})


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    # Starlette re-raises after this answer, so the server logs the traceback; the client learns nothing of it.
    return problem(500, "internal_error", "an unexpected error occurred; it has been logged")
