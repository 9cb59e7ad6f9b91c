"""Fixtures for the live-server tests: the server's own container, and the worker tick run on
demand against the server's database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI

from kameng.container import Container
from kameng.worker import run_tick


@pytest.fixture(scope="session")
def live_container(live_server: str, live_app: FastAPI) -> Container:
    """The live server's own container (its database, channels and sender), for running the
    worker tick on demand."""
    built: Container = live_app.state.container
    return built


@pytest.fixture
def tick(live_container: Container) -> Callable[[timedelta], dict[str, int]]:
    """Run one worker tick now, or ``ahead`` of now (past the refund poll's back-off), deterministically
    instead of waiting for the server's own 5-second loop."""

    def run(ahead: timedelta = timedelta(0)) -> dict[str, int]:
        return run_tick(live_container, datetime.now(UTC) + ahead)

    return run
