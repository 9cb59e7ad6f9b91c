"""The app in process (FastAPI's TestClient) on the test's own database, with the demo loaded.

The database is ``db_url``'s: migrated once per process and emptied for each test, on SQLite and
on PostgreSQL alike, so the API tests run on both backends under the one isolation scheme.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from kameng.container import Container
from kameng.settings import Settings
from kameng.web.app import create_app
from tests.support.rate_limits import GENEROUS_RATE_LIMITS

SECRET = "api-test-secret-0123456789abcdef-0123456789"


def app_settings(database_url: str, **env: str) -> Settings:
    return Settings.from_env(
        {
            "KAMENG_DATABASE_URL": database_url,
            "KAMENG_ENV": "test",
            "KAMENG_EMBEDDED_WORKER": "0",  # tests run the worker's tick themselves, when they mean to
            "KAMENG_SECRET_KEY": SECRET,
            **GENEROUS_RATE_LIMITS,
            **env,
        }
    )


def container_of(client: TestClient) -> Container:
    container: Container = client.app.state.container  # type: ignore[attr-defined]
    return container


@pytest.fixture
def client(db_url: str) -> Iterator[TestClient]:
    """The app on this test's database (demo data loaded at start-up), its clock standing still
    at start-up time: a test moves it on purpose."""
    with TestClient(create_app(app_settings(db_url))) as test_client:
        container = container_of(test_client)
        start = container.now()
        container.clock = lambda: start
        yield test_client
