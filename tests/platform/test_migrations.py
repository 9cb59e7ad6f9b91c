"""Migrations are code under test: from empty to head on both backends, the result matches the
models exactly (what autogenerate would write is nothing), and the way back down works."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select, text

from kameng.messages.models import MessageRow
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


def test_messages_sent_before_0007_keep_their_words_both_ways(empty_db_url: str) -> None:
    migrate.upgrade(empty_db_url, "0006")
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, phone, password_hash, role, display_name, created_at)"
                    " VALUES (1, '13800000000', 'x', 'consumer', '', :at)"
                ),
                {"at": datetime(2026, 3, 2, tzinfo=UTC)},
            )
            conn.execute(
                text(
                    "INSERT INTO messages (id, key, user_id, kind, text_zh, text_en, created_at)"
                    " VALUES (1, 'k', 1, 'approved', '退款 1.00 元已同意。', 'A refund of 1.00 is approved.', :at)"
                ),
                {"at": datetime(2026, 3, 2, tzinfo=UTC)},
            )
        migrate.upgrade(empty_db_url)
        with engine.connect() as conn:
            texts = conn.execute(select(MessageRow.texts)).scalar_one()
        assert texts == {"zh": "退款 1.00 元已同意。", "en": "A refund of 1.00 is approved."}
        migrate.downgrade(empty_db_url, "0006")
        with engine.connect() as conn:
            back = conn.execute(text("SELECT text_zh, text_en FROM messages")).one()
        assert tuple(back) == ("退款 1.00 元已同意。", "A refund of 1.00 is approved.")
    finally:
        engine.dispose()
