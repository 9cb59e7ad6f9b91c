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

from sqlalchemy import Label, Row, event, func, inspect, literal_column, text
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
    pool = session.info.setdefault(POOLS, {}).setdefault(table, [])
    pool.extend(int(value) for value in ids)
    _lowest_last(pool)


def reserve_id_sets(uow: UnitOfWork, counts: dict[str, int]) -> None:
    """:func:`reserve_ids` for a few tables at once, in one query (a single request's step draws
    the ids of its ticket, refund and journal entries in one round trip)."""
    if uow.dialect != "postgresql":
        return
    session = uow.session
    counts = {table: count for table, count in counts.items() if count > 0}
    if not counts:
        return
    sequences = [_sequence_of(session, table) for table, count in counts.items() for _ in range(count)]
    drawn = session.execute(
        text("SELECT name, nextval(CAST(name AS regclass)) FROM unnest(CAST(:names AS text[])) AS name"),
        {"names": sequences},
    )
    pools = session.info.setdefault(POOLS, {})
    tables = {_SEQUENCES[table]: table for table in counts}
    for sequence, value in drawn:
        pools.setdefault(tables[sequence], []).append(int(value))
    for pool in pools.values():
        _lowest_last(pool)


def drawn_id_columns(counts: dict[str, int]) -> list[Label[int]]:
    """Columns that draw ``counts`` ids of each table, for a step's first query to carry (one
    round trip fewer than :func:`reserve_id_sets`; PostgreSQL only). The sequences are named as
    PostgreSQL names a serial or identity column's: ``<table>_id_seq``. Read the drawn ids with
    :func:`pool_drawn_ids`."""
    return [
        func.nextval(literal_column(f"'{table}_id_seq'")).label(f"drawn_{table}_{n}")
        for table, count in counts.items()
        for n in range(count)
    ]


def pool_drawn_ids(uow: UnitOfWork, row: Row[Any], counts: dict[str, int]) -> None:
    """Put the ids a query drew with :func:`drawn_id_columns` into this transaction's pool."""
    pools = uow.session.info.setdefault(POOLS, {})
    for table, count in counts.items():
        pool = pools.setdefault(table, [])
        pool.extend(int(getattr(row, f"drawn_{table}_{n}")) for n in range(count))
        _lowest_last(pool)


# Each table's id sequence, looked up once per process: the look-up reads the catalog's
# dependencies, which a request that draws ids would otherwise pay for each time.
_SEQUENCES: dict[str, str] = {}


def _sequence_of(session: Session, table: str) -> str:
    if table not in _SEQUENCES:
        name = session.scalar(text("SELECT pg_get_serial_sequence(:table, 'id')"), {"table": table})
        assert name is not None, f"{table}.id has no sequence"
        _SEQUENCES[table] = str(name)
    return _SEQUENCES[table]


def _lowest_last(pool: list[int]) -> None:
    # Ids are handed out lowest first (``pop`` takes the last): rows added in order keep it by id,
    # as rows the database numbers do (deliveries of one step go out in the order they were owed).
    pool.sort(reverse=True)


def take_id(uow: UnitOfWork, table: str) -> int | None:
    """A reserved id of ``table``, or None (then the caller flushes to learn the row's id)."""
    pool: list[int] | None = uow.session.info.get(POOLS, {}).get(table)
    return pool.pop() if pool else None


@event.listens_for(Session, "before_flush")
def _give_ids(session: Session, flush_context: Any, instances: Any) -> None:
    """New rows without an id take one from the transaction's pool of their table, if it has one.
    Listened to once, on the Session class, for every flush: a listener added to each session that
    drew ids cost every refund request more than this early return costs the flushes of the rest."""
    pools: dict[str, list[int]] = session.info.get(POOLS, {})
    if not pools:
        return
    for row in session.new:
        mapper = inspect(row).mapper
        pool = pools.get(mapper.local_table.name)
        if pool and getattr(row, "id", 0) is None:
            row.id = pool.pop()
