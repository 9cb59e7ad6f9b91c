"""Owner keys (migration 0027): a consumer's row refers to its parent with the consumer, so the
database refuses a row filed under another consumer's order or ticket, and the migration keeps
every row both ways on a database that holds some."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from kameng.aftersales.models import Ticket, TicketTimeline
from kameng.compose import prepare_database
from kameng.orders.models import OrderEventRow
from kameng.platform.db import migrate
from kameng.platform.db.database import make_engine
from kameng.schema import Base
from kameng.settings import Settings

NOW = datetime(2026, 11, 20, 2, tzinfo=UTC)


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: int(conn.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one())
            for table in sorted(Base.metadata.tables)
        }


@pytest.fixture
def seeded(empty_db_url: str) -> Iterator[Engine]:
    """A database at head with the demo's orders, tickets, refunds and subscriptions in it."""
    assert prepare_database(Settings(database_url=empty_db_url, environment="test", secret_key="t"), now=NOW)
    engine = make_engine(empty_db_url)
    try:
        yield engine
    finally:
        engine.dispose()


def test_the_migration_keeps_every_row_down_and_up_again(empty_db_url: str, seeded: Engine) -> None:
    held = _counts(seeded)
    assert all(held[table] for table in ("tickets", "ticket_timeline", "refunds", "order_events"))
    migrate.downgrade(empty_db_url, "0026")
    assert _counts(seeded) == held
    migrate.upgrade(empty_db_url)
    assert _counts(seeded) == held


def _another_consumer(engine: Engine, than: int) -> int:
    with engine.connect() as conn:
        other = conn.execute(text("SELECT min(id) FROM users WHERE id <> :id AND role = 'consumer'"), {"id": than})
        return int(other.scalar_one())


def test_a_ticket_cannot_be_moved_to_a_consumer_who_does_not_own_its_order(seeded: Engine) -> None:
    with seeded.connect() as conn:
        ticket = conn.execute(select(Ticket.id, Ticket.user_id).limit(1)).one()
    stranger = _another_consumer(seeded, ticket.user_id)
    with pytest.raises(IntegrityError), seeded.begin() as conn:
        # Its timeline rows still name the owner, so either key refuses the move.
        conn.execute(update(Ticket).where(Ticket.id == ticket.id).values(user_id=stranger))


def test_a_row_filed_under_another_consumer_is_refused(seeded: Engine) -> None:
    with seeded.connect() as conn:
        event = conn.execute(select(OrderEventRow).limit(1)).one()
        step = conn.execute(select(TicketTimeline).limit(1)).one()
    copied = {column.name: getattr(event, column.name) for column in OrderEventRow.__table__.columns}
    copied.pop("id")
    stranger = _another_consumer(seeded, event.user_id)
    with pytest.raises(IntegrityError), seeded.begin() as conn:
        conn.execute(insert(OrderEventRow).values({**copied, "user_id": stranger}))
    moved = {column.name: getattr(step, column.name) for column in TicketTimeline.__table__.columns}
    moved.pop("id")
    stranger = _another_consumer(seeded, step.user_id)
    with pytest.raises(IntegrityError), seeded.begin() as conn:
        conn.execute(insert(TicketTimeline).values({**moved, "user_id": stranger, "seq": step.seq + 100}))
    with seeded.begin() as conn:  # the same rows under their own consumer are accepted
        conn.execute(insert(OrderEventRow).values(copied))


def test_the_migration_takes_the_parent_indexes_an_operator_built_first(empty_db_url: str) -> None:
    """docs/deploy.md: on a large database the indexes are built beforehand, without blocking
    writes; the migration then finds them and only swaps the keys."""
    migrate.upgrade(empty_db_url, "0026")
    engine = make_engine(empty_db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE UNIQUE INDEX uq_orders_id_user ON orders (id, user_id)"))
            conn.execute(text("CREATE UNIQUE INDEX uq_tickets_id_user ON tickets (id, user_id)"))
        migrate.upgrade(empty_db_url)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()
