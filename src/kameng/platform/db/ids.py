"""Row ids drawn ahead from PostgreSQL's sequences, for work that adds thousands of rows in one
transaction (a mass refund's batch).

The ORM needs a row's id as soon as another row names it (a ticket's timeline, a refund's outbox
key), so code that adds one row at a time flushes after each: one round trip per row and table.
A caller that knows it will add ``n`` rows of a table :func:`reserve_ids` them in one query; the
code that creates the rows :func:`take_id` and flushes only when none was reserved, so the whole
batch is written at the commit, a few statements per table. SQLite has no sequences (and no round
trips): nothing is reserved there and every row is flushed as before.
"""

from __future__ import annotations

from sqlalchemy import text

from kameng.platform.db.uow import UnitOfWork


def _pool(table: str) -> tuple[str, str]:
    return ("reserved_ids", table)


def reserve_ids(uow: UnitOfWork, table: str, count: int) -> None:
    """Draw ``count`` ids of ``table`` from its sequence into this transaction's pool."""
    if uow.dialect != "postgresql" or count <= 0:
        return
    ids = uow.session.execute(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"),
        {"table": table, "count": count},
    ).scalars()
    uow.memo.setdefault(_pool(table), []).extend(int(value) for value in ids)


def take_id(uow: UnitOfWork, table: str) -> int | None:
    """A reserved id of ``table``, or None (then the caller flushes to learn the row's id)."""
    pool: list[int] | None = uow.memo.get(_pool(table))
    return pool.pop() if pool else None
