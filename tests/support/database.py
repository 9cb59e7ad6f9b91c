"""Database fixtures: every storage test runs once on SQLite and once on PostgreSQL.

One isolation scheme for both backends: each test process migrates one database per backend
once (``kameng_t_<random>`` on the PostgreSQL server, a file under pytest's temporary folder for
SQLite), and ``db_url`` empties it before each test (every row gone, every sequence back at 1),
so a test starts from the same empty, migrated database on either backend and finds nothing a
test before it left, even one that died half-way. Migrating per test would cost most of the
suite's time; creating a PostgreSQL database costs about a second (it checkpoints), emptying
one ~50 ms. Names are random per process, so xdist workers never meet, and every PostgreSQL
database is dropped ``WITH (FORCE)`` at the end: nothing depends on leftover state.

``KAMENG_TEST_PG`` names the PostgreSQL server (a URL to any database on it, used for the
CREATE/DROP statements); the default is the local trust-auth server.
"""

from __future__ import annotations

import os
import secrets
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


def empty_database(url: str) -> None:
    """Every table emptied and every sequence back at 1, in one transaction, on either backend.

    On PostgreSQL, DELETE with foreign-key triggers off (``session_replication_role``) rather
    than TRUNCATE: TRUNCATE gives each table a new file and syncs it, 0.4 s a test on this server
    against 0.1 s (seeding included) this way. On SQLite, children before parents, the foreign
    keys checked at commit, and the AUTOINCREMENT counters (if any table has one) reset. The
    tables hold a few dozen rows."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    tables = [*Base.metadata.sorted_tables, *SimulatorBase.metadata.sorted_tables]
    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SET LOCAL session_replication_role = replica"))
            else:  # coupons and orders point at each other: check the keys at commit, all rows gone
                conn.execute(text("PRAGMA defer_foreign_keys = ON"))
            for table in reversed(tables):
                conn.execute(table.delete())
            if engine.dialect.name == "postgresql":
                conn.execute(
                    text(
                        "SELECT setval(format('%I.%I', schemaname, sequencename), 1, false)"
                        " FROM pg_sequences WHERE schemaname = current_schema()"
                    )
                )
            elif conn.execute(text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'")).first():
                conn.execute(text("DELETE FROM sqlite_sequence"))
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
def _sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'kameng.db'}"
    migrate.upgrade(url)
    install_simulator(url)
    return url


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend's name; tests marked ``postgres`` run only on PostgreSQL."""
    if request.node.get_closest_marker("postgres") and request.param != "postgresql":
        pytest.skip("PostgreSQL only")
    return str(request.param)


@pytest.fixture
def db_url(backend: str, request: pytest.FixtureRequest) -> str:
    """This process's migrated database on ``backend``, emptied for this test."""
    url = str(request.getfixturevalue("_sqlite_database" if backend == "sqlite" else "_pg_database"))
    empty_database(url)
    return url


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
