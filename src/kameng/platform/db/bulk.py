"""Writing a transaction's many new rows with multi-row Core inserts instead of the ORM's flush.

Code that adds rows one at a time (``session.add``) is shared by the single-ticket path and by work
that adds tens of thousands in one transaction (a mass refund's batch). For the latter the ORM's
unit of work (sorting, per-object bookkeeping, identity map) costs more than the rows themselves.
:func:`write_new_rows` takes the session's pending rows of the named append-only tables, once
every one of them has its id (drawn ahead, :mod:`kameng.platform.db.ids`), and writes them as one
``INSERT`` per table (and set of columns), in foreign-key order, in the same transaction: the same
rows with the same values, only written differently. Without drawn ids (SQLite) nothing is taken
and the flush writes them as before.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from typing import Any

from sqlalchemy import Table, insert, inspect
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.orm.interfaces import MANYTOONE

from kameng.platform.db.ids import POOLS


def write_new_rows(session: Session, tables: Collection[str]) -> int:
    """Write the pending rows of ``tables`` with Core inserts and let the session forget them.
    Returns how many were written (0 when a row has no id drawn ahead: the flush writes them)."""
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
        if row.id is None:
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
    order = {table: index for index, table in enumerate(next(iter(by_table)).metadata.sorted_tables)}
    for table in sorted(by_table, key=order.__getitem__):
        for rows in by_table[table].values():
            session.execute(insert(table), rows)
    return len(pending)


def _values(mapper: Mapper[Any], row: Any) -> dict[str, Any]:
    """The row's column values as the flush would write them: the attributes set on it, and the
    foreign keys its many-to-one relationships name (a journal line's entry)."""
    state = row.__dict__
    values = {prop.columns[0].key: state[prop.key] for prop in mapper.column_attrs if prop.key in state}
    for relationship in mapper.relationships:
        if relationship.direction is MANYTOONE and relationship.key in state:
            parent = state[relationship.key]
            for local, remote in relationship.local_remote_pairs:
                assert local.key is not None
                assert remote.key is not None
                values[local.key] = getattr(parent, remote.key) if parent is not None else None
    return values
