"""Fixtures for the web tests: the worker tick, run on demand against the live server's database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from kameng.adapters.channels.refunds import SimulatorRefunds
from kameng.adapters.db.database import make_engine, make_session_factory
from kameng.adapters.db.uow import UnitOfWork
from kameng.adapters.notify import LogSender
from kameng.services.calendars import load_calendar
from kameng.services.worker import WorkerDeps, run_tick
from kameng.settings import Settings


@pytest.fixture(scope="session")
def worker_deps(live_server: str, live_settings: Settings) -> Iterator[WorkerDeps]:
    """What ``run_tick`` needs, on the live server's database (built after the server prepared it)."""
    engine = make_engine(live_settings.database_url)
    factory = make_session_factory(engine)
    try:
        calendar = load_calendar(live_settings.calendar_file)
        yield WorkerDeps(lambda: UnitOfWork(factory), calendar, SimulatorRefunds(factory), LogSender())
    finally:
        engine.dispose()


@pytest.fixture
def tick(worker_deps: WorkerDeps) -> Callable[[timedelta], dict[str, int]]:
    """Run one worker tick now, or ``ahead`` of now (past the refund poll's back-off), deterministically
    instead of waiting for the server's own 5-second loop."""

    def run(ahead: timedelta = timedelta(0)) -> dict[str, int]:
        return run_tick(worker_deps, datetime.now(UTC) + ahead)

    return run
