"""Migrations are code under test: from empty to head on both backends, the result matches the
models exactly (what autogenerate would write is nothing), and the way back down works."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from kameng.platform.db import migrate
from kameng.platform.db.database import make_engine
from kameng.schema import Base


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _differences(url: str) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_head_from_empty_creates_every_model_table(empty_db_url: str) -> None:
    assert _tables(empty_db_url) == set()
    migrate.upgrade(empty_db_url)
    assert set(Base.metadata.tables) <= _tables(empty_db_url)
    assert "alembic_version" in _tables(empty_db_url)


def test_migrated_schema_matches_the_models(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    assert _differences(empty_db_url) == []


def test_downgrade_to_base_removes_everything_and_upgrade_works_again(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    migrate.downgrade(empty_db_url, "base")
    assert _tables(empty_db_url) <= {"alembic_version"}
    migrate.upgrade(empty_db_url)
    assert _differences(empty_db_url) == []


def test_upgrade_head_twice_is_harmless(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url)
    migrate.upgrade(empty_db_url)
    assert set(Base.metadata.tables) <= _tables(empty_db_url)
