"""The worker survives its errors, on SQLite and PostgreSQL: a tick that raises is logged with the
step it was in, the next tick comes after a longer pause and runs, and every tick leaves a
heartbeat that ``GET /api/v1/health`` reports. The same holds for ``kameng worker`` and for the
worker embedded in the web app."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from kameng import worker
from kameng.cli.main import app as cli
from kameng.container import Container
from kameng.platform.db.database import make_engine, make_session_factory
from kameng.platform.db.uow import UnitOfWork
from kameng.platform.heartbeat import WorkerHeartbeat
from kameng.web import app as web_app
from kameng.web.app import create_app
from kameng.worker import Heartbeat, next_delay, run_worker, tick_once
from tests.support.apps import app_settings, container_of


def flaky(monkeypatch: pytest.MonkeyPatch, db_url: str, failures: int = 1) -> list[datetime]:
    """Make the first ``failures`` calls of the tick's first step on ``db_url`` raise; returns the
    time of every call there. Only this test's database: a live server in the same process (the
    browser tests') ticks on its own database meanwhile, untouched."""
    calls: list[datetime] = []
    real = worker.expire_unpaid_orders
    database = make_url(db_url).database

    def expire(uow: UnitOfWork, now: datetime) -> int:
        if uow.session_factory.kw["bind"].url.database != database:
            return real(uow, now)
        calls.append(now)
        if len(calls) <= failures:
            raise RuntimeError("the database went away")
        return real(uow, now)

    monkeypatch.setattr(worker, "expire_unpaid_orders", expire)
    return calls


def heartbeat_rows(container: Container) -> list[WorkerHeartbeat]:
    with container.uow() as uow:
        return list(uow.session.scalars(select(WorkerHeartbeat).order_by(WorkerHeartbeat.worker)))


def test_the_pause_doubles_with_each_failed_tick_in_a_row_up_to_five_minutes() -> None:
    assert [next_delay(5.0, n) for n in range(9)] == [5, 10, 20, 40, 80, 160, 300, 300, 300]
    assert next_delay(5.0, 10_000) == 300
    assert next_delay(600.0, 3) == 600  # never shorter than the interval itself
    assert next_delay(0.0, 4) == 0


def test_a_tick_that_raises_is_logged_with_its_step_and_the_next_tick_runs_after_a_longer_pause(
    container: Container, db_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls = flaky(monkeypatch, db_url)
    pauses: list[float] = []
    with caplog.at_level(logging.ERROR, logger="kameng.worker"):
        last = run_worker(container, interval=2.0, ticks=3, name="test-worker", sleep=pauses.append)
    assert len(calls) == 3  # the failed tick did not stop the loop
    assert pauses == [4.0, 2.0]  # backed off after the failure, back to the interval after a success
    assert last.ok
    assert set(last.figures) >= {"orders_expired", "tickets_escalated", "outbox_done", "refunds_polled"}
    (record,) = [r for r in caplog.records if "expire_orders" in r.getMessage()]
    assert record.exc_info is not None
    assert "the database went away" in str(record.exc_info[1])
    (row,) = heartbeat_rows(container)
    assert row.worker == "test-worker"
    assert row.ticks == 3
    assert row.failures_in_row == 0
    assert row.last_error is not None
    assert "expire_orders" in row.last_error
    assert row.last_ok_at == row.beat_at


def test_the_other_steps_still_run_in_a_tick_where_one_fails(
    container: Container, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    flaky(monkeypatch, db_url)
    heartbeat = Heartbeat("one-tick", container.now(), 5.0)
    outcome = tick_once(container, heartbeat)
    assert not outcome.ok
    assert outcome.error is not None
    assert "expire_orders: RuntimeError: the database went away" in outcome.error
    # The deadlines, the outbox and the polls ran all the same.
    assert {"tickets_escalated", "outbox_done", "refunds_polled"} <= set(outcome.figures)
    assert "orders_expired" not in outcome.figures
    (row,) = heartbeat_rows(container)
    assert (row.ticks, row.failures_in_row, row.last_ok_at) == (1, 1, None)
    assert heartbeat.failures_in_row == 1


def test_kameng_worker_carries_on_after_a_failed_tick_and_once_says_when_it_failed(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {"KAMENG_DATABASE_URL": db_url, "KAMENG_ENV": "test", "KAMENG_SECRET_KEY": "t" * 40}.items():
        monkeypatch.setenv(name, value)
    calls = flaky(monkeypatch, db_url)
    runner = CliRunner()
    survived = runner.invoke(cli, ["worker", "--ticks", "2", "--interval", "0"])
    assert survived.exit_code == 0, survived.output
    assert len(calls) == 2

    flaky(monkeypatch, db_url, failures=1)
    failed = runner.invoke(cli, ["worker", "--once"])
    assert failed.exit_code == 1
    assert "the last tick failed" in failed.output
    assert "expire_orders" in failed.output


def test_the_worker_in_the_web_app_survives_a_failing_tick_and_beats(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = flaky(monkeypatch, db_url)
    monkeypatch.setattr(web_app, "next_delay", lambda interval, failures: 0.05)
    with TestClient(create_app(app_settings(db_url, KAMENG_EMBEDDED_WORKER="1"))) as client:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            answer = client.get("/api/v1/health").json()
            if len(calls) >= 2 and answer["worker"]["last_ok_at"] is not None:
                break
            time.sleep(0.05)
        assert len(calls) >= 2, "the loop stopped after the failing tick"
        assert answer["status"] == "ok", answer
        assert answer["worker"]["failures_in_row"] == 0
        rows = heartbeat_rows(container_of(client))
    (row,) = rows
    assert row.worker.startswith("embedded:")
    assert row.last_error is not None


# --------------------------------------------------------------------------------------------
# The health answer


def test_the_health_answer_shows_the_last_heartbeat_its_age_and_the_database(
    client: TestClient, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    container = container_of(client)
    before = client.get("/api/v1/health")
    assert before.status_code == 200
    assert before.json()["status"] == "degraded"  # no worker has beaten yet
    assert before.json()["database"] == {"reachable": True}
    assert before.json()["worker"]["last_heartbeat_at"] is None

    heartbeat = Heartbeat("health-test", container.now(), 5.0)
    assert tick_once(container, heartbeat).ok
    beaten = client.get("/api/v1/health").json()
    assert beaten["status"] == "ok"
    assert beaten["worker"]["age_seconds"] == 0
    assert beaten["worker"]["stale"] is False
    assert beaten["worker"]["workers_alive"] == 1
    assert datetime.fromisoformat(beaten["worker"]["last_heartbeat_at"]) == container.now()

    later = container.now() + timedelta(minutes=2)
    container.clock = lambda: later
    stale = client.get("/api/v1/health").json()
    assert stale["status"] == "degraded"
    assert stale["worker"]["age_seconds"] == 120
    assert stale["worker"]["stale"] is True
    assert stale["worker"]["workers_alive"] == 0

    flaky(monkeypatch, db_url)
    assert not tick_once(container, heartbeat).ok
    failing = client.get("/api/v1/health").json()
    assert failing["status"] == "degraded"
    assert failing["worker"]["failures_in_row"] == 1
    assert failing["worker"]["stale"] is False
    assert "error" not in str(failing).lower()  # nothing internal on a public endpoint


def test_the_health_answer_is_503_when_the_database_cannot_be_reached(client: TestClient) -> None:
    container = container_of(client)
    dead = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", pool_size=1, max_overflow=0)
    real = container.session_factory
    container.session_factory = make_session_factory(dead)
    try:
        answer = client.get("/api/v1/health")
    finally:
        container.session_factory = real
        dead.dispose()
    assert answer.status_code == 503
    assert answer.json()["status"] == "down"
    assert answer.json()["database"] == {"reachable": False}
    assert answer.json()["worker"] is None
    assert client.get("/api/v1/health").status_code == 200
