"""Writing a transaction's many new rows with multi-row Core inserts instead of the ORM's flush.

Code that adds rows one at a time (``session.add``) is shared by the single-ticket path and by work
that adds tens of thousands in one transaction (a mass refund's batch). For both the ORM's unit of
work (sorting, per-object bookkeeping, identity map, RETURNING parsed row by row) costs more than
the rows themselves. :func:`write_new_rows` takes the session's pending rows of the named
append-only tables and writes them as one ``INSERT`` per table (and set of columns), in
foreign-key order, in the same transaction: the same rows with the same values, only written
differently. The rest of the session's changes (the rows those name: a ticket, an order's new
total) are flushed first, so every foreign key finds its row.

A row that another row names needs its id before the write: drawn ahead
(:mod:`kameng.platform.db.ids`). Tables in ``server_ids`` are those whose rows nothing in the
transaction names (timeline rows, messages, outbox rows): the database gives them their ids.
When a row of any other table has no id (SQLite has no sequences to draw from) nothing is taken
and the flush writes them all as before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from typing import Any

from sqlalchemy import MetaData, Table, insert, inspect
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.orm.interfaces import MANYTOONE

from kameng.platform.db.ids import POOLS


def write_new_rows(session: Session, tables: Collection[str], server_ids: Collection[str] = ()) -> int:
    """Write the pending rows of ``tables`` with Core inserts and let the session forget them.
    Returns how many were written (0 when a row has no id drawn ahead: the flush writes them).
    Rows of ``server_ids`` (a subset of ``tables`` that no other row names) may go without an id."""
    pools: dict[str, list[int]] = session.info.get(POOLS, {})
    pending: list[tuple[Mapper[Any], Table, Any]] = []
    for row in session.new:
        mapper = inspect(row).mapper
        table = mapper.local_table
        if isinstance(table, Table) and table.name in tables:
            pending.append((mapper, table, row))
    if not pending:
        return 0
    for _, table, row in pending:
        if row.id is None and table.name not in server_ids:
            pool = pools.get(table.name)
            if not pool:
                return 0
            row.id = pool.pop()
    by_table: dict[Table, dict[frozenset[str], list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for mapper, table, row in pending:
        values = _values(mapper, row)
        by_table[table][frozenset(values)].append(values)
    for _, _, row in pending:
        session.expunge(row)
    # What the rows name (a ticket, a journal entry's order) is written first.
    session.flush()
    order = _foreign_key_order(next(iter(by_table)).metadata)
    for table in sorted(by_table, key=order.__getitem__):
        for rows in by_table[table].values():
            session.execute(insert(table), rows)  # one multi-row INSERT (database.py says why)
    return len(pending)


def _foreign_key_order(metadata: MetaData) -> dict[Table, int]:
    """Each table's place in foreign-key order, sorted once per set of tables (sorting them all
    again for every request cost more than the inserts' own statements)."""
    known: tuple[int, dict[Table, int]] | None = _ORDERS.get(id(metadata))
    if known is None or known[0] != len(metadata.tables):
        known = (len(metadata.tables), {table: index for index, table in enumerate(metadata.sorted_tables)})
        _ORDERS[id(metadata)] = known
    return known[1]


_ORDERS: dict[int, tuple[int, dict[Table, int]]] = {}


def _values(mapper: Mapper[Any], row: Any) -> dict[str, Any]:
    """The row's column values as the flush would write them: the attributes set on it (an id
    left to the database is left out), and the foreign keys its many-to-one relationships name (a
    journal line's entry)."""
    state = row.__dict__
    values = {prop.columns[0].key: state[prop.key] for prop in mapper.column_attrs if prop.key in state}
    if values.get("id", 0) is None:
        del values["id"]
    for relationship in mapper.relationships:
        if relationship.direction is MANYTOONE and relationship.key in state:
            parent = state[relationship.key]
            for local, remote in relationship.local_remote_pairs:
                assert local.key is not None
                assert remote.key is not None
                values[local.key] = getattr(parent, remote.key) if parent is not None else None
    return values
