"""Running a mass refund's batches: in the foreground until it is done or stopped (the CLI), or a
few at a time from the worker's tick (a run started on the page or the API). Each batch is its
own transaction (:func:`kameng.operator.mass_refunds.run_batch`), so stopping the process
anywhere loses at most the batch in flight."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from kameng.domain.calendar import WorkCalendar
from kameng.domain.mass_refunds import RunStatus
from kameng.operator.mass_models import MassRefundRun
from kameng.operator.mass_refunds import DEFAULT_BATCH, BatchResult, run_batch
from kameng.platform.db.uow import UnitOfWork

# The most batches one worker tick takes from a run started on the page: the tick has other work.
TICK_BATCHES = 5


Progress = Callable[[BatchResult], None]


def drive(
    uow_factory: Callable[[], UnitOfWork],
    run_id: int,
    clock: Callable[[], datetime],
    calendar: WorkCalendar,
    batch: int = DEFAULT_BATCH,
    on_progress: Progress | None = None,
    max_batches: int | None = None,
) -> BatchResult:
    """Run batches until the run is done or stopped (or ``max_batches`` were taken); each batch is
    its own transaction, so stopping the process anywhere loses at most the batch in flight."""
    taken = 0
    while True:
        result = run_batch(uow_factory(), run_id, clock(), calendar, batch)
        taken += 1
        if on_progress is not None:
            on_progress(result)
        if result.status is not RunStatus.RUNNING or (max_batches is not None and taken >= max_batches):
            return result


def continue_runs(
    uow_factory: Callable[[], UnitOfWork], now: datetime, calendar: WorkCalendar, batch: int = DEFAULT_BATCH
) -> int:
    """The worker's step: a few batches of the oldest running run (started on the page, or left by
    a CLI that stopped). Returns the orders handled."""
    with uow_factory() as uow:
        run_id = uow.session.scalar(
            select(MassRefundRun.id)
            .where(MassRefundRun.status == RunStatus.RUNNING)
            .order_by(MassRefundRun.id)
            .limit(1)
        )
    if run_id is None:
        return 0
    handled = 0
    for _ in range(TICK_BATCHES):
        result = run_batch(uow_factory(), run_id, now, calendar, batch)
        handled += result.processed
        if result.status is not RunStatus.RUNNING:
            break
    return handled
