"""/healthz (alive, no database) and /readyz (database, migrations at head, a recent worker)."""

from __future__ import annotations

import secrets
from pathlib import Path

from fastapi.testclient import TestClient

from kameng.platform.db import migrate
from kameng.web.app import create_app
from kameng.worker import Heartbeat, tick_once, worker_name
from tests.support.apps import app_settings, container_of
from tests.support.database import create_pg_database, drop_pg_database


def test_readyz_fails_while_no_worker_has_beaten_and_passes_after_a_tick(client: TestClient) -> None:
    waiting = client.get("/readyz")
    assert waiting.status_code == 503
    assert waiting.json() == {
        "status": "not_ready",
        "checks": {"database": "ok", "migrations": "ok", "worker": "stale"},
    }

    container = container_of(client)
    tick_once(container, Heartbeat(worker_name("test"), container.now(), 5.0))
    ready = client.get("/readyz")

    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok", "worker": "ok"}}


def test_readyz_does_not_wait_for_a_worker_when_the_app_runs_it_itself(db_url: str) -> None:
    with TestClient(create_app(app_settings(db_url), run_worker=True)) as client:
        answer = client.get("/readyz")

    assert answer.status_code == 200
    assert answer.json()["checks"]["worker"] == "embedded"


def test_readyz_fails_when_the_database_is_not_at_the_migrations_head(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'behind.db'}"
    migrate.upgrade(url, "0010")
    with TestClient(create_app(app_settings(url, KAMENG_AUTO_PREPARE="0"))) as client:
        answer = client.get("/readyz")

    assert answer.status_code == 503
    assert answer.json()["checks"]["migrations"] == "behind"
    assert answer.json()["checks"]["database"] == "ok"


def test_readyz_fails_when_the_database_is_dropped_under_the_app_and_healthz_still_answers() -> None:
    name = f"kameng_t_ready_{secrets.token_hex(4)}"
    url = create_pg_database(name)
    try:
        migrate.upgrade(url)
        with TestClient(create_app(app_settings(url, KAMENG_AUTO_PREPARE="0"), run_worker=False)) as client:
            before = client.get("/readyz")
            drop_pg_database(name)
            after = client.get("/readyz")
            alive = client.get("/healthz")
    finally:
        drop_pg_database(name)

    assert before.json()["checks"]["database"] == "ok"
    assert after.status_code == 503
    assert after.json()["checks"]["database"] == "failed"
    assert alive.status_code == 200
