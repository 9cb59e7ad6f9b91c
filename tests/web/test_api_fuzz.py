"""Property-based fuzzing of the REST API from its own OpenAPI document (schemathesis), on SQLite
and on PostgreSQL.

Whatever a client sends, well-formed or not, the answer is never a server error: bad input gets
a 4xx that says what is wrong. Each operation is called as a signed-in consumer with generated
path parameters, query strings, headers and bodies. Both backends, because they refuse different
things: PostgreSQL will not store a NUL that SQLite keeps, and a sweep on SQLite alone answered
200 where PostgreSQL answered 500.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from kameng.settings import Settings
from kameng.web.app import create_app
from tests.support.database import create_pg_database, drop_pg_database, pg_server_url
from tests.support.rate_limits import GENEROUS_RATE_LIMITS

SECRET = "fuzz-secret-" + "x" * 32


def _fuzzed_app(database_url: str) -> FastAPI:
    """The app on its own database with the demo data, no worker, and a token for a consumer and
    a supervisor on ``app.state``."""
    app = create_app(
        Settings.from_env(
            {
                "KAMENG_ENV": "test",
                "KAMENG_DATABASE_URL": database_url,
                "KAMENG_SECRET_KEY": SECRET,
                "KAMENG_EMBEDDED_WORKER": "0",
                **GENEROUS_RATE_LIMITS,
            }
        )
    )
    with TestClient(app) as client:

        def token(identifier: str) -> str:
            answer = client.post("/api/v1/auth/token", json={"identifier": identifier, "password": "kameng-demo-2026"})
            return str(answer.json()["token"])

        app.state.fuzz_token = token("13800000001")
        app.state.fuzz_staff_token = token("supervisor@kameng.test")
    return app


# Built at collection: schemathesis reads the schema when the module loads (its fixture-based
# loader does not work with pytest 9.2). The SQLite app serves the schema (the same document on
# either backend) and is the SQLite target; a throwaway file.
SQLITE_APP = _fuzzed_app(f"sqlite:///{Path(tempfile.mkdtemp(prefix='kameng-fuzz-')) / 'k.db'}")
schema = schemathesis.openapi.from_asgi("/openapi.json", SQLITE_APP)
# Derandomized, so CI sees the same cases every run; raise KAMENG_FUZZ_EXAMPLES to hunt further.
FUZZ_EXAMPLES = int(os.environ.get("KAMENG_FUZZ_EXAMPLES", "25"))


@pytest.fixture(scope="module")
def postgres_app() -> Iterator[FastAPI]:
    """The PostgreSQL target, made when the first PostgreSQL case runs (not at collection, so a
    run that selects none creates nothing): a database of its own on the server at
    ``KAMENG_TEST_PG``, dropped afterwards."""
    name = f"kameng_fuzz_{secrets.token_hex(6)}"
    try:
        url = create_pg_database(name)
    except Exception as error:  # any failure to connect means: no PostgreSQL here
        pytest.fail(f"PostgreSQL at {pg_server_url()} is not reachable: {str(error).splitlines()[0]}")
    try:
        app = _fuzzed_app(url)
        try:
            yield app
        finally:
            app.state.container.dispose()
    finally:
        drop_pg_database(name)


@pytest.mark.parametrize("fuzz_backend", ["sqlite", "postgresql"])
@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_api_fail_with_a_server_error(
    case: Any, fuzz_backend: str, request: pytest.FixtureRequest
) -> None:
    app: FastAPI = SQLITE_APP if fuzz_backend == "sqlite" else request.getfixturevalue("postgres_app")
    # Staff operations are fuzzed as a supervisor (a consumer would only ever see their 404).
    staff = "/staff/" in case.path or case.path.endswith(("/approve", "/reject", "/ask-info"))
    headers = {"Authorization": f"Bearer {app.state.fuzz_staff_token if staff else app.state.fuzz_token}"}
    if case.headers and "Authorization" in case.headers:
        headers = {}
    response = case.call(headers=headers, app=app)
    where = f"{fuzz_backend}: {case.method} {case.formatted_path}"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:500]}"
