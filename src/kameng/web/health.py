"""Health for load balancers, orchestrators and monitoring.

``GET /healthz``: the process is alive (no database). ``GET /readyz``: this process can serve:
the database answers, its schema is at the migrations' head, and a worker beat recently (unless
this process runs the worker itself); 503 naming the failing checks otherwise, so a load balancer
sends no traffic to an API process whose database is gone or not yet migrated.

``GET /api/v1/health``: is the database reachable, and is a worker ticking?

For load balancers and monitoring, so it needs no sign-in and says nothing internal: no error
text, no host names. 503 when the database cannot be reached (this process cannot serve);
otherwise 200, with ``status`` ``ok``, or ``degraded`` when no worker has beaten lately or the
last tick failed (the site serves, but deadlines and refunds are not moving).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import text

from kameng import __version__
from kameng.platform.db.migrate import current_revisions, head_revisions
from kameng.platform.heartbeat import worker_health
from kameng.web.deps import ContainerDep

router = APIRouter(prefix="/api/v1")
probes = APIRouter()
log = logging.getLogger("kameng.health")


class DatabaseHealth(BaseModel):
    reachable: bool


class WorkerHealthOut(BaseModel):
    last_heartbeat_at: datetime | None = Field(description="The end of the most recent tick of any worker")
    age_seconds: float | None = Field(description="How long ago that was")
    stale: bool = Field(description="No heartbeat for a minute (or three of the worker's intervals)")
    failures_in_row: int = Field(description="Failed ticks in a row of that worker; 0 when its last tick went through")
    last_ok_at: datetime | None
    workers_alive: int = Field(description="Workers that beat in the last minute")


class HealthOut(BaseModel):
    status: Literal["ok", "degraded", "down"]
    checked_at: datetime
    database: DatabaseHealth
    worker: WorkerHealthOut | None = Field(description="Absent when the database cannot be read")


@router.get(
    "/health",
    tags=["health"],
    summary="Database reachability and the worker's last heartbeat",
    responses={503: {"description": "The database cannot be reached", "model": HealthOut}},
)
def health(container: ContainerDep, response: Response) -> HealthOut:
    now = container.now()
    try:
        with container.uow() as uow:
            uow.session.execute(text("SELECT 1"))
        beat = worker_health(container.uow(), now)
    except Exception:  # whatever the driver raises, the answer is "unreachable", not a 500
        log.exception("health check: the database cannot be reached")
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return HealthOut(status="down", checked_at=now, database=DatabaseHealth(reachable=False), worker=None)
    return HealthOut(
        status="ok" if beat.ok else "degraded",
        checked_at=now,
        database=DatabaseHealth(reachable=True),
        worker=WorkerHealthOut(
            last_heartbeat_at=beat.last_beat_at,
            age_seconds=beat.age_seconds,
            stale=beat.stale,
            failures_in_row=beat.failures_in_row,
            last_ok_at=beat.last_ok_at,
            workers_alive=beat.workers_alive,
        ),
    )


class Alive(BaseModel):
    status: Literal["ok"]
    version: str


@probes.get("/healthz", include_in_schema=False)
def healthz() -> Alive:
    """Alive: the process answers. Touches nothing else, so a slow database never gets a healthy
    process restarted."""
    return Alive(status="ok", version=__version__)


Check = Literal["ok", "failed", "behind", "stale", "embedded", "not_checked"]


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, Check] = Field(
        description="database: ok/failed; migrations: ok/behind/not_checked; worker: ok/stale/embedded/not_checked"
    )


@probes.get(
    "/readyz",
    include_in_schema=False,
    responses={503: {"description": "A check failed", "model": Readiness}},
)
def readyz(request: Request, container: ContainerDep, response: Response) -> Readiness:
    checks: dict[str, Check] = {"database": "ok", "migrations": "not_checked", "worker": "not_checked"}
    try:
        with container.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            at_head = current_revisions(connection) == head_revisions()
        checks["migrations"] = "ok" if at_head else "behind"
        if getattr(request.app.state, "runs_worker", False):
            checks["worker"] = "embedded"
        elif at_head:  # the heartbeats' table may not exist yet in a schema that is behind
            checks["worker"] = "stale" if worker_health(container.uow(), container.now()).stale else "ok"
    except Exception:  # whatever the driver raises, the answer is "not ready", not a 500
        log.exception("readiness: the database cannot be read")
        checks["database"] = "failed"
    ready = all(value in {"ok", "embedded"} for value in checks.values())
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(status="ready" if ready else "not_ready", checks=checks)
