"""Workers' heartbeats: each worker process writes its own row at the end of every tick, so a
health check can tell a worker that is running from one that died or keeps failing.

A row is keyed by the worker's name (host and process id), written by that process only, so two
workers never write the same row. Rows of workers gone for a week are removed by whoever beats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Index, String, Text, delete, func, select
from sqlalchemy.orm import Mapped, mapped_column

from kameng.platform.db.base import Base
from kameng.platform.db.uow import UnitOfWork

# A worker that has not beaten for this long (or three of its intervals, if longer) is stale.
STALE_AFTER = timedelta(seconds=60)
FORGET_AFTER = timedelta(days=7)
MAX_ERROR = 1000


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeats"
    __table_args__ = (Index("ix_worker_heartbeats_beat_at", "beat_at"),)
    worker: Mapped[str] = mapped_column(String(120), primary_key=True)
    started_at: Mapped[datetime]
    beat_at: Mapped[datetime]  # the end of its last tick
    interval_seconds: Mapped[int]  # its pause between ticks when all is well
    ticks: Mapped[int]
    failures_in_row: Mapped[int]  # 0 after a tick that went through
    last_ok_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True, slots=True)
class Beat:
    """What a worker says at the end of a tick."""

    worker: str
    started_at: datetime
    interval_seconds: int
    ok: bool
    error: str | None = None


def record_beat(uow: UnitOfWork, beat: Beat, now: datetime) -> None:
    """Write this worker's row (one short transaction of its own)."""
    with uow:
        session = uow.session
        row = session.get(WorkerHeartbeat, beat.worker, with_for_update=True)
        if row is None:
            row = WorkerHeartbeat(
                worker=beat.worker,
                started_at=beat.started_at,
                beat_at=now,
                interval_seconds=beat.interval_seconds,
                ticks=0,
                failures_in_row=0,
            )
            session.add(row)
        row.beat_at = now
        row.interval_seconds = beat.interval_seconds
        row.ticks += 1
        if beat.ok:
            row.failures_in_row, row.last_ok_at = 0, now
        else:
            row.failures_in_row += 1
            row.last_error = (beat.error or "")[:MAX_ERROR]
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - FORGET_AFTER))
        uow.commit()


def stale_after(interval_seconds: int) -> timedelta:
    return max(STALE_AFTER, timedelta(seconds=3 * interval_seconds))


@dataclass(frozen=True, slots=True)
class WorkerHealth:
    """The most recent heartbeat of any worker, and how many workers beat in the last minute."""

    last_beat_at: datetime | None
    age_seconds: float | None
    stale: bool
    failures_in_row: int
    last_ok_at: datetime | None
    workers_alive: int

    @property
    def ok(self) -> bool:
        return self.last_beat_at is not None and not self.stale and self.failures_in_row == 0


def worker_health(uow: UnitOfWork, now: datetime) -> WorkerHealth:
    with uow:
        session = uow.session
        latest = session.scalar(select(WorkerHeartbeat).order_by(WorkerHeartbeat.beat_at.desc()).limit(1))
        alive = session.scalar(
            select(func.count()).select_from(WorkerHeartbeat).where(WorkerHeartbeat.beat_at >= now - STALE_AFTER)
        )
    if latest is None:
        return WorkerHealth(None, None, True, 0, None, 0)
    age = now - latest.beat_at
    return WorkerHealth(
        last_beat_at=latest.beat_at,
        age_seconds=round(max(age.total_seconds(), 0.0), 3),
        stale=age > stale_after(latest.interval_seconds),
        failures_in_row=latest.failures_in_row,
        last_ok_at=latest.last_ok_at,
        workers_alive=int(alive or 0),
    )
