"""Running a mass refund's batches: in the foreground until it is done or stopped (the CLI), in
several processes at once, or a few at a time from the worker's tick (a run started on the page or
the API). Each batch is its own transaction (:func:`kameng.operator.mass_refunds.run_batch`) on
orders it claimed, so stopping a process anywhere loses at most the batch in flight, which the
next batch takes again."""

from __future__ import annotations

import logging
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime

from sqlalchemy import Engine, select

from kameng.domain.calendar import WorkCalendar
from kameng.domain.mass_refunds import RunStatus
from kameng.operator.mass_models import MassRefundRun
from kameng.operator.mass_refunds import DEFAULT_BATCH, BatchResult, run_batch
from kameng.platform.db.uow import UnitOfWork

# The most batches one worker tick takes from a run started on the page: the tick has other work.
TICK_BATCHES = 5
# How long a process with nothing left to claim waits for the batches of the others to commit.
WAIT_SECONDS = 0.2
# How long a helper may take to end once the run is over (its batch in flight, then nothing).
HELPER_GRACE_SECONDS = 60.0

log = logging.getLogger(__name__)


Progress = Callable[[BatchResult], None]


def default_processes() -> int:
    """One process per core: a batch is mostly Python, and PostgreSQL had spare CPU beside one."""
    return max(1, os.cpu_count() or 1)


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
    its own transaction, so stopping the process anywhere loses at most the batch in flight. With
    nothing left to claim while other processes' batches are in flight, it waits for them: the
    run is done only when the last batch committed."""
    taken = 0
    while True:
        result = run_batch(uow_factory(), run_id, clock(), calendar, batch)
        taken += 1
        if on_progress is not None:
            on_progress(result)
        if result.status is not RunStatus.RUNNING or (max_batches is not None and taken >= max_batches):
            return result
        if result.waiting:
            time.sleep(WAIT_SECONDS)


@contextmanager
def helpers(
    engine: Engine,
    uow_factory: Callable[[], UnitOfWork],
    run_id: int,
    clock: Callable[[], datetime],
    calendar: WorkCalendar,
    batch: int = DEFAULT_BATCH,
    processes: int | None = None,
) -> Iterator[int]:
    """Helper processes forked from this one for the block (``processes`` in all with this one,
    default one per core), each running the run's batches on the claims the others do not hold
    until nothing is left to claim; the block drives the run too (:func:`drive`), which waits for
    it to be done. Yields the count of processes. On SQLite (one writer at a time) none is started.
    Forked before anything else starts threads (the CLI's progress bar): a fork copies only the
    calling thread, and a lock another thread held would stay held in the helper."""
    count = default_processes() if processes is None else max(1, processes)
    if engine.dialect.name == "sqlite":
        count = 1
    context = multiprocessing.get_context("fork")
    started = [
        context.Process(target=_help, args=(engine, uow_factory, run_id, clock, calendar, batch), daemon=True)
        for _ in range(count - 1)
    ]
    for helper in started:
        helper.start()
    try:
        yield count
    except BaseException:
        # A helper stopped mid-batch rolls back: its claim is taken again by the next batch.
        for helper in started:
            helper.terminate()
        raise
    finally:
        for helper in started:
            _end(helper)


def _end(helper: multiprocessing.process.BaseProcess) -> None:
    """Wait for a helper to end, but not for ever. Once the block is over a helper has at most its
    batch in flight to finish; one still alive after the grace is stuck (a fork copies only the
    calling thread, so a lock another thread held at that moment is never released in the child),
    and stopping it loses at most that batch, which rolls back and is taken again."""
    helper.join(HELPER_GRACE_SECONDS)
    if helper.is_alive():
        log.warning("mass refund helper %s did not end within %.0f s; stopping it", helper.pid, HELPER_GRACE_SECONDS)
        helper.terminate()
        helper.join(5)
    if helper.is_alive():
        helper.kill()
        helper.join()


def _help(
    engine: Engine,
    uow_factory: Callable[[], UnitOfWork],
    run_id: int,
    clock: Callable[[], datetime],
    calendar: WorkCalendar,
    batch: int,
) -> None:
    # The pool's connections belong to the parent: the helper opens its own.
    engine.dispose(close=False)
    while True:
        result = run_batch(uow_factory(), run_id, clock(), calendar, batch)
        if result.status is not RunStatus.RUNNING or result.waiting:
            return


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
        # Done, stopped, or the rest in the hands of another process (a CLI driving the run).
        if result.status is not RunStatus.RUNNING or result.waiting:
            break
    return handled
