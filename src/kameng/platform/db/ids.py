"""Row ids drawn ahead from PostgreSQL's sequences, for work that adds thousands of rows in one
transaction (a mass refund's batch).

The ORM needs a row's id as soon as another row names it (a ticket's timeline, a refund's outbox
key), so code that adds one row at a time flushes after each: one round trip per row and table.
And rows whose ids the database gives are written with RETURNING, one long statement per table
that the driver must parse. A caller that knows it will add about ``n`` rows of a table
:func:`reserve_ids` them in one query; the rows then get their ids when added (:func:`take_id`,
for code that needs the id at once) or at the flush, so nothing flushes early and the rows are
written by the driver's pipelined executemany. Ids left unused are gaps in the sequence, as a
rolled-back insert leaves. SQLite has no sequences (and no round trips): nothing is reserved
there and every row is written as before.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect, text
from sqlalchemy.orm import Session

from kameng.platform.db.uow import UnitOfWork

POOLS = "reserved_ids"


def reserve_ids(uow: UnitOfWork, table: str, count: int) -> None:
    """Draw ``count`` ids of ``table`` from its sequence into this transaction's pool."""
    if uow.dialect != "postgresql" or count <= 0:
        return
    session = uow.session
    ids = session.execute(
        text("SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"),
        {"table": table, "count": count},
    ).scalars()
    session.info.setdefault(POOLS, {}).setdefault(table, []).extend(int(value) for value in ids)
    if not event.contains(session, "before_flush", _give_ids):
        event.listen(session, "before_flush", _give_ids)


def take_id(uow: UnitOfWork, table: str) -> int | None:
    """A reserved id of ``table``, or None (then the caller flushes to learn the row's id)."""
    pool: list[int] | None = uow.session.info.get(POOLS, {}).get(table)
    return pool.pop() if pool else None


def _give_ids(session: Session, flush_context: Any, instances: Any) -> None:
    pools: dict[str, list[int]] = session.info.get(POOLS, {})
    for row in session.new:
        mapper = inspect(row).mapper
        pool = pools.get(mapper.local_table.name)
        if pool and getattr(row, "id", 0) is None:
            row.id = pool.pop()
