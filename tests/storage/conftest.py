"""Storage fixtures: every test here runs once on SQLite and once on PostgreSQL.

``db_url`` is a migrated database holding no rows, for each test. Migrating for every test would
cost most of the suite's time, so each backend is migrated once per process: SQLite into a
template file that each test copies; PostgreSQL into a database ``kameng_t_<random>`` that is
emptied (every row, every sequence back to 1) before each test. Names are random per process, so xdist
workers never meet, and every database is dropped ``WITH (FORCE)`` at the end: nothing depends on
leftover state.

``KAMENG_TEST_PG`` names the PostgreSQL server (a URL to any database on it, used for the
CREATE/DROP statements); the default is the local trust-auth server.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from kameng import compose
from kameng.accounts import services as accounts
from kameng.accounts.models import User
from kameng.channels.simulator.models import SimulatorBase, install
from kameng.channels.simulator.payments import SimulatorChannel
from kameng.container import Container
from kameng.demo import seed_catalog
from kameng.platform.db import migrate
from kameng.platform.db.database import make_engine, make_session_factory
from kameng.platform.db.uow import UnitOfWork
from kameng.schema import Base
from kameng.settings import Settings

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ["sqlite", "postgresql"]
PASSWORD = "correct-horse-battery"
# A Monday morning in Shanghai; fixed, so that every figure in a test is reproducible.
NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def pg_server_url() -> str:
    return os.environ.get("KAMENG_TEST_PG", DEFAULT_PG)


def _admin_engine() -> Engine:
    # AUTOCOMMIT: CREATE/DROP DATABASE cannot run inside a transaction.
    return make_engine(pg_server_url(), isolation_level="AUTOCOMMIT", pool_size=1, max_overflow=0)


def pg_url_for(name: str) -> str:
    return make_url(pg_server_url()).set(database=name).render_as_string(hide_password=False)


def _admin_sql(sql: str) -> None:
    engine = _admin_engine()
    try:
        with engine.connect() as conn:
            conn.execute(text(sql))
    finally:
        engine.dispose()


def create_pg_database(name: str) -> str:
    _admin_sql(f'CREATE DATABASE "{name}"')
    return pg_url_for(name)


def drop_pg_database(name: str) -> None:
    _admin_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_available() -> str | None:
    try:
        engine = _admin_engine()
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except Exception as error:  # any failure to connect means: no PostgreSQL here
        return str(error).splitlines()[0]
    return None


@pytest.fixture(scope="session")
def _pg_database() -> Iterator[str]:
    problem = _pg_available()
    if problem:
        pytest.fail(f"PostgreSQL at KAMENG_TEST_PG is not reachable: {problem}")
    name = f"kameng_t_{secrets.token_hex(6)}"
    url = create_pg_database(name)
    try:
        # Test data need not survive a power cut: not waiting for the WAL flush at each commit
        # makes the many small transactions here several times cheaper (also for subprocesses).
        _admin_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
        migrate.upgrade(url)
        install_simulator(url)
        yield url
    finally:
        drop_pg_database(name)


def _empty_pg_tables(url: str) -> None:
    """Every model table emptied and every sequence back at 1, in one transaction.

    DELETE with foreign-key triggers off (``session_replication_role``) rather than TRUNCATE:
    TRUNCATE gives each table a new file and syncs it, 0.4 s a test on this server against
    0.1 s (seeding included) this way. The tables hold a few dozen rows at most."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for table in [*Base.metadata.sorted_tables, *SimulatorBase.metadata.sorted_tables]:
                conn.execute(table.delete())
            conn.execute(
                text(
                    "SELECT setval(format('%I.%I', schemaname, sequencename), 1, false)"
                    " FROM pg_sequences WHERE schemaname = current_schema()"
                )
            )
    finally:
        engine.dispose()


def install_simulator(url: str) -> None:
    # The channel simulator's own tables: a test that drives it directly finds them in place.
    engine = make_engine(url)
    try:
        install(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    install_simulator(url)
    # Fold the WAL back into the main file so that a plain file copy is the whole database.
    # (sqlite3 directly: the engine would wrap these in BEGIN IMMEDIATE, where PRAGMAs fail.)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode=DELETE")
    finally:
        conn.close()
    return path


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend's name; tests marked ``postgres`` run only on PostgreSQL."""
    if request.node.get_closest_marker("postgres") and request.param != "postgresql":
        pytest.skip("PostgreSQL only")
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database at the head revision, for this test alone."""
    if backend == "sqlite":
        template = request.getfixturevalue("_sqlite_template")
        path = tmp_path / "kameng.db"
        shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    # One database per process, emptied before each test: CREATE DATABASE costs about a second
    # on this server (it checkpoints), emptying ~50 ms. Emptying before rather than after means
    # a test that died half-way cannot leak into the next one.
    url = request.getfixturevalue("_pg_database")
    _empty_pg_tables(url)
    yield url


@pytest.fixture
def empty_db_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all, for the migration tests."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    problem = _pg_available()
    if problem:
        pytest.fail(f"PostgreSQL at KAMENG_TEST_PG is not reachable: {problem}")
    name = f"kameng_t_{secrets.token_hex(6)}"
    url = create_pg_database(name)
    try:
        yield url
    finally:
        drop_pg_database(name)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    # argon2's production cost (64 MiB, 3 passes) is a tenth of a second per sign-up; these tests
    # are about storage, not password strength (tests of accounts use the real parameters).
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts, "hasher", lambda: cheap)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def uow_factory(engine: Engine) -> Callable[[], UnitOfWork]:
    """A new unit of work per call: what each thread of a concurrent test needs."""
    factory = make_session_factory(engine)
    return lambda: UnitOfWork(factory)


@pytest.fixture
def uow(uow_factory: Callable[[], UnitOfWork]) -> UnitOfWork:
    return uow_factory()


@pytest.fixture
def container(db_url: str) -> Iterator[Container]:
    """The test database behind the composition root's ports (the simulators, the log sender)."""
    built = compose.build(Settings(database_url=db_url, environment="test", secret_key="test"))
    try:
        yield built
    finally:
        built.dispose()


@pytest.fixture
def channel() -> SimulatorChannel:
    return SimulatorChannel("test")


@pytest.fixture
def now() -> datetime:
    return NOW


@pytest.fixture
def catalog(uow: UnitOfWork, now: datetime) -> UnitOfWork:
    """The demo catalog (products of every kind, card keys, coupons WELCOME20 and SORRY10)."""
    assert seed_catalog(uow, now)
    return uow


@pytest.fixture
def make_user(uow: UnitOfWork, now: datetime) -> Callable[..., User]:
    """``make_user()`` signs up a new consumer (a fresh phone number each call)."""
    counter = iter(range(1, 10**6))

    def make(identifier: str | None = None, **extra: object) -> User:
        ident = identifier or f"139{next(counter):08d}"
        return accounts.sign_up(uow, ident, PASSWORD, now, **extra)  # type: ignore[arg-type]

    return make
