"""Liveness and readiness, at the root and without a key."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel

from plera.api.deps import ServicesDep
from plera.api.problems import ApiError, responses

router = APIRouter(tags=["health"])

_READY_TIMEOUT = 2.0  # seconds to wait for a pooled connection


class Status(BaseModel):
    status: Literal["ok"]


@router.get("/healthz", response_model=Status, summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=Status, summary="The database answers", responses=responses(503))
def readyz(sv: ServicesDep) -> dict[str, str]:
    try:
        with sv.db.pool.connection(timeout=_READY_TIMEOUT) as conn:
            conn.execute("SELECT 1")
    except Exception as e:
        raise ApiError(503, "not_ready", f"the database does not answer ({type(e).__name__})") from e
    return {"status": "ok"}
