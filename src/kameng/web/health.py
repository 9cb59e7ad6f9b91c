"""``GET /api/v1/health``: is the database reachable, and is a worker ticking?

For load balancers and monitoring, so it needs no sign-in and says nothing internal: no error
text, no host names. 503 when the database cannot be reached (this process cannot serve);
otherwise 200, with ``status`` ``ok``, or ``degraded`` when no worker has beaten lately or the
last tick failed (the site serves, but deadlines and refunds are not moving).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import text

from kameng.platform.heartbeat import worker_health
from kameng.web.deps import ContainerDep

router = APIRouter(prefix="/api/v1")
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
