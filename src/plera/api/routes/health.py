"""Liveness and readiness, at the root and without a key."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import psycopg
from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse

from plera.api.deps import MonitorDep, ServicesDep
from plera.api.problems import problem, responses
from plera.consumers import lag
from plera.consumers.lag import PipelineMonitor, Progress, measure
from plera.projections.dead_letters import Faults, faults
from plera.runtime import Services

router = APIRouter(tags=["health"])

_READY_TIMEOUT = 2.0  # seconds to wait for a pooled connection


class Status(BaseModel):
    status: Literal["ok"]


class Check(BaseModel):
    status: Literal["ok", "failing", "skipped"]
    detail: str | None = Field(default=None, description="why it is failing or skipped")


class LagCheck(BaseModel):
    status: Literal["ok", "degraded", "unknown"] = Field(
        description="degraded: some lag is over `threshold` (still ready); unknown: it could not be measured"
    )
    detail: str | None = None
    mode: Literal["embedded", "kafka"] | None = Field(
        default=None, description="embedded: read models fed in process; kafka: through the relay and the broker"
    )
    head: int | None = Field(default=None, description="the event store's last notification id")
    relay_lag: int | None = Field(default=None, description="events not yet published to Kafka (Kafka mode)")
    consumer: str | None = Field(default=None, description='whose positions: "embedded" or "kafka"')
    consumer_lag: int | None = Field(
        default=None, description="events published (Kafka) or stored (embedded) that the read models lack"
    )
    threshold: int = Field(description="lag, in events, above which readiness is degraded")


class FeedFailure(BaseModel):
    consumer: str
    since: datetime
    attempts: int
    error: str


class ProjectionsCheck(BaseModel):
    status: Literal["ok", "failing", "unknown"] = Field(
        description="failing: a read model skipped events (dead letters) or a feed cannot go on"
    )
    detail: str | None = None
    dead_letters: dict[str, int] = Field(
        default_factory=dict, description="events each read model could not take, by projection"
    )
    failing_feeds: list[FeedFailure] = Field(default_factory=list)


class Checks(BaseModel):
    database: Check
    broker: Check = Field(description="skipped in embedded mode (PLERA_KAFKA_BOOTSTRAP unset)")
    lag: LagCheck
    projections: ProjectionsCheck


class Readiness(BaseModel):
    status: Literal["ready", "degraded"] = Field(description="degraded: ready, but the read models lag (see warnings)")
    checks: Checks
    warnings: list[str]


_READYZ = """\
Ready when the database answers and, with `PLERA_KAFKA_BOOTSTRAP` set, the broker does too (its answer
is cached for 2 seconds), and the read models are whole: no event waits in a read model's dead
letters (`plera projections retry` applies them after a fix) and no feed is failing. Lag is reported
but never makes the service unready: above the threshold (10,000 events) the answer is still 200,
with `status` "degraded", the lag check "degraded" and a warning. When not ready, the 503 problem
carries the same `checks`.
"""


@router.get("/healthz", response_model=Status, summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="The database, the broker, the read models' lag and faults",
    description=_READYZ,
    responses=responses(503),
)
def readyz(sv: ServicesDep, monitor: MonitorDep) -> Any:
    checks = _checks(sv, monitor)
    failing = [name for name, check in checks.items() if check["status"] == "failing"]
    if failing:
        detail = "; ".join(f"{name}: {checks[name]['detail']}" for name in failing)
        return _not_ready(detail, checks)
    warnings = _lag_warnings(checks["lag"])
    return {"status": "degraded" if warnings else "ready", "checks": checks, "warnings": warnings}


def _not_ready(detail: str, checks: dict[str, Any]) -> JSONResponse:
    return problem(503, "not_ready", f"not ready: {detail}", headers={"Retry-After": "5"}, checks=checks)


def _checks(sv: Services, monitor: PipelineMonitor) -> dict[str, Any]:
    broker = monitor.broker_state()
    broker_check: dict[str, Any]
    if broker is None:
        broker_check = {"status": "skipped", "detail": "embedded mode: PLERA_KAFKA_BOOTSTRAP is unset"}
    elif broker.reachable:
        broker_check = {"status": "ok", "detail": None}
    else:
        broker_check = {"status": "failing", "detail": f"the broker does not answer ({broker.error})"}
    progress: Progress | None = None
    lag_detail: str | None = None
    database_check: dict[str, Any]
    projections_check: dict[str, Any] = {"status": "unknown", "detail": "the database does not answer"}
    try:
        with sv.db.pool.connection(timeout=_READY_TIMEOUT) as conn:
            conn.execute("SELECT 1")
            database_check = {"status": "ok", "detail": None}
            try:
                progress = measure(conn, broker)
                projections_check = _projections(faults(conn))
            except psycopg.Error as e:
                lag_detail = f"the positions could not be read ({type(e).__name__})"
                projections_check = {"status": "unknown", "detail": lag_detail}
    except Exception as e:
        database_check = {"status": "failing", "detail": f"the database does not answer ({type(e).__name__})"}
        lag_detail = "the database does not answer"
    return {
        "database": database_check,
        "broker": broker_check,
        "lag": _lag(progress, lag_detail),
        "projections": projections_check,
    }


def _projections(found: Faults) -> dict[str, Any]:
    letters: dict[str, int] = {}
    for (_, projection), count in found.dead_letters.items():
        letters[projection] = letters.get(projection, 0) + count
    return {
        "status": "failing" if found.any else "ok",
        "detail": "; ".join(found.sentences()) or None,
        "dead_letters": letters,
        "failing_feeds": [
            {"consumer": consumer, "since": since.isoformat(), "attempts": attempts, "error": error}
            for consumer, (since, attempts, error) in sorted(found.failing_feeds.items())
        ],
    }


def _lag(progress: Progress | None, detail: str | None) -> dict[str, Any]:
    if progress is None:
        return {"status": "unknown", "detail": detail, "threshold": lag.LAG_WARNING}
    over = [n for n in (progress.relay_lag, progress.consumer_lag) if n is not None and n > lag.LAG_WARNING]
    if over:
        status, detail = "degraded", f"over {lag.LAG_WARNING} events behind"
    elif progress.consumer_lag is None:
        status, detail = "unknown", "the broker's end offsets are unknown"
    else:
        status, detail = "ok", None
    return {
        "status": status,
        "detail": detail,
        "mode": progress.mode,
        "head": progress.head,
        "relay_lag": progress.relay_lag,
        "consumer": progress.consumer,
        "consumer_lag": progress.consumer_lag,
        "threshold": lag.LAG_WARNING,
    }


def _lag_warnings(check: dict[str, Any]) -> list[str]:
    warnings = []
    limit = lag.LAG_WARNING
    if check.get("relay_lag") is not None and check["relay_lag"] > limit:
        warnings.append(f"the relay is {check['relay_lag']} events behind the event store (over {limit})")
    if check.get("consumer_lag") is not None and check["consumer_lag"] > limit:
        warnings.append(
            f"the read models are {check['consumer_lag']} events behind (over {limit}): lists and dashboards are late"
        )
    return warnings
