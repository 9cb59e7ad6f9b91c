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

A step that changes a row or two besides (a refund's order) can write those too without the flush:
:func:`write_changes` updates them by primary key with Core and marks them written.

A step that writes its new rows itself need not build them as ORM objects at all: inside
:func:`rows_as_values`, code that adds an append-only row through :func:`add_row` leaves its
values, and :func:`take_new_rows` takes them with the session's pending rows. Building an object
(its attributes' events, the session's cascade when added, its expunge when taken) cost a refund
request more than the row's share of the insert. Everywhere else :func:`add_row` adds an object as
``session.add`` does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Insert, MetaData, Table, bindparam, event, insert, inspect, update
from sqlalchemy.orm import ColumnProperty, Mapper, Session
from sqlalchemy.orm.base import NO_VALUE
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.orm.interfaces import MANYTOONE
from sqlalchemy.orm.state import InstanceState

from kameng.platform.db.ids import POOLS

NewRows = dict[Table, dict[frozenset[str], list[dict[str, Any]]]]
# The session's rows kept as values (:func:`rows_as_values`), in session.info.
AS_VALUES = "new_rows_as_values"


@dataclass
class _KeptAsValues:
    server_ids: frozenset[str]
    rows: list[tuple[Mapper[Any], dict[str, Any]]] = field(default_factory=list)


@contextmanager
def rows_as_values(session: Session, server_ids: Collection[str]) -> Iterator[None]:
    """Inside the block, a row :func:`add_row` adds is kept as its values when it can be written
    without the flush: its id is given, or its table is one of ``server_ids`` (nothing names its
    rows: the database numbers them). The block must end with :func:`take_new_rows` having taken
    them (:func:`write_new_rows`, or step_end's one statement): a commit with rows still kept
    fails, so that none is lost unwritten. Left with an exception, the kept rows go with the
    transaction's rollback. A block inside another is the outer one's: its rows are kept with
    those, and written when they are."""
    if session.info.get(AS_VALUES) is not None:
        yield
        return
    session.info[AS_VALUES] = _KeptAsValues(frozenset(server_ids))
    try:
        yield
    finally:
        session.info.pop(AS_VALUES, None)


@event.listens_for(Session, "before_commit")
def _none_left_unwritten(session: Session) -> None:
    """Every session's commit (listened to once, on the class: a listener added per session cost
    each request more than this check)."""
    kept: _KeptAsValues | None = session.info.get(AS_VALUES)
    if kept is not None and kept.rows:
        names = sorted({_table_of(mapper).name for mapper, _ in kept.rows})
        raise RuntimeError(f"new rows of {', '.join(names)} were kept as values and never written")


def add_row(session: Session, row_class: type[Any], values: dict[str, Any]) -> None:
    """Add a new row of ``row_class`` with these attribute ``values``: as its values inside
    :func:`rows_as_values` when it can be written so, else as an ORM object (``session.add``)."""
    kept: _KeptAsValues | None = session.info.get(AS_VALUES)
    if kept is not None:
        mapper = _mapper_of(row_class)
        if values.get("id") is not None or _table_of(mapper).name in kept.server_ids:
            unknown = values.keys() - _column_keys(mapper).keys()
            if unknown:  # as the object's constructor would say
                raise TypeError(f"{row_class.__name__} has no column {', '.join(sorted(unknown))}")
            kept.rows.append((mapper, values))
            return
    session.add(row_class(**values))


def write_new_rows(session: Session, tables: Collection[str], server_ids: Collection[str] = ()) -> int:
    """Write the pending rows of ``tables`` with Core inserts and let the session forget them.
    Returns how many were written (0 when a row has no id drawn ahead: the flush writes them).
    Rows of ``server_ids`` (a subset of ``tables`` that no other row names) may go without an id."""
    taken = take_new_rows(session, tables, server_ids)
    if not taken:
        return 0
    # What the rows name (a ticket, a journal entry's order) is written first.
    session.flush()
    return insert_rows(session, taken)


def take_new_rows(session: Session, tables: Collection[str], server_ids: Collection[str] = ()) -> NewRows | None:
    """The pending rows of ``tables``, by table and set of columns, with their ids drawn, and gone
    from the session, with every row kept as values (:func:`rows_as_values`, whatever its table:
    none may be left unwritten): the caller writes them (:func:`insert_rows`, or one statement with
    the rest of a step, :mod:`kameng.platform.db.step_end`). None, and nothing taken, when a row has
    no id drawn ahead: the kept rows are then objects again, for the flush."""
    pools: dict[str, list[int]] = session.info.get(POOLS, {})
    pending: list[tuple[Mapper[Any], Table, Any]] = []
    for row in session.new:
        mapper = inspect(row).mapper
        table = mapper.local_table
        if isinstance(table, Table) and table.name in tables:
            pending.append((mapper, table, row))
    for _, table, row in pending:
        if row.id is None and table.name not in server_ids:
            pool = pools.get(table.name)
            if not pool:
                # The flush writes them all, and the rows kept as values with them.
                session.add_all([mapper.class_(**values) for mapper, values in _take_kept(session)])
                return None
            row.id = pool.pop()
    by_table: NewRows = defaultdict(lambda: defaultdict(list))
    for mapper, table, row in pending:
        values = _values(mapper, row)
        by_table[table][frozenset(values)].append(values)
    for _, _, row in pending:
        session.expunge(row)
    for mapper, given in _take_kept(session):
        values = _given_values(mapper, given)
        by_table[_table_of(mapper)][frozenset(values)].append(values)
    return by_table


def insert_rows(session: Session, taken: NewRows) -> int:
    """Rows :func:`take_new_rows` took, as one multi-row INSERT per table and set of columns, in
    foreign-key order (database.py says why one statement); returns how many."""
    written = 0
    for table in in_foreign_key_order(taken):
        for rows in taken[table].values():
            session.execute(_insert_of(table), rows)
            written += len(rows)
    return written


def in_foreign_key_order(tables: Collection[Table]) -> list[Table]:
    if not tables:
        return []
    order = _foreign_key_order(next(iter(tables)).metadata)
    return sorted(tables, key=order.__getitem__)


@cache
def _insert_of(table: Table) -> Insert:
    """The table's INSERT, built once. Inline: nothing is read back. A single row's insert would
    otherwise come back with its new id (RETURNING), which nothing here reads: the rows were
    named by drawn ids, or by nothing."""
    return insert(table).inline()


def write_changes(session: Session) -> int:
    """Write the changed columns of the session's changed rows (a refund's order and its new
    refunded total) with one Core ``UPDATE`` by primary key per table and set of columns, and mark
    them written, instead of the ORM's flush: for a step that changes one row, the flush's
    machinery (dependency sort, per-mapper actions) cost more than the update. The same values
    reach the same rows, and a row that is gone fails as the flush fails (StaleDataError). Rows
    the flush must handle itself (a changed relationship or key, a version counter, a column with
    an update default) are left to it. Returns how many rows were written."""
    groups = changed_rows(session)
    written = 0
    connection = session.connection()
    for (table, columns), rows in groups.items():
        params = rows[0][1] if len(rows) == 1 else [changes for _, changes in rows]
        result = connection.execute(_update_of(table, columns), params)
        if result.rowcount != len(rows) and (len(rows) == 1 or connection.dialect.supports_sane_multi_rowcount):
            raise StaleDataError(f"UPDATE of {table.name} matched {result.rowcount} rows of {len(rows)}")
        mark_written(session, rows)
        written += len(rows)
    return written


Changes = dict[tuple[Table, frozenset[str]], list[tuple[InstanceState[Any], dict[str, Any]]]]


def changed_rows(session: Session) -> Changes:
    """The session's changed rows that :func:`write_changes` can write, by table and set of
    changed columns: each with its changes (``new_<column>``) and its key (:data:`KEY`)."""
    groups: Changes = defaultdict(list)
    for row in session.dirty:
        state: InstanceState[Any] = inspect(row)
        mapper = state.mapper
        table = mapper.local_table
        if not isinstance(table, Table) or not _plainly_updated(mapper) or state.identity is None:
            continue
        changes = _column_changes(mapper, state)
        if changes:
            changes[KEY] = state.identity[0]
            groups[(table, frozenset(changes))].append((state, changes))
    return groups


def mark_written(session: Session, rows: list[tuple[InstanceState[Any], dict[str, Any]]]) -> None:
    """Rows written outside the flush: nothing left for it to write."""
    for state, _ in rows:
        state._commit_all(state.dict, session.identity_map)


KEY = "key_of_the_row"


@cache
def _update_of(table: Table, columns: frozenset[str]) -> Any:
    """``UPDATE table SET columns WHERE key``, built once per table and set of columns (the
    parameters are named apart from the columns: Core keeps a column's own name for itself)."""
    key = table.primary_key.columns[0]
    new: dict[Any, Any] = {table.c[name.removeprefix("new_")]: bindparam(name) for name in columns - {KEY}}
    return update(table).where(key == bindparam(KEY)).values(new)


@cache
def _plainly_updated(mapper: Mapper[Any]) -> bool:
    """One table with one key column, no version counter, and no column that the flush would give a
    new value of its own when the row changes (found once per mapper)."""
    table = mapper.local_table
    return (
        isinstance(table, Table)
        and mapper.inherits is None
        and mapper.version_id_col is None
        and len(table.primary_key.columns) == 1
        and all(column.onupdate is None and column.server_onupdate is None for column in table.columns)
    )


def _column_changes(mapper: Mapper[Any], state: InstanceState[Any]) -> dict[str, Any] | None:
    """The row's changed columns and their new values; None when a change is not a plain column's
    (a relationship, the key): the flush writes that row."""
    changes: dict[str, Any] = {}
    for name, before in state.committed_state.items():
        prop = mapper.attrs.get(name)
        if not isinstance(prop, ColumnProperty) or len(prop.columns) != 1 or prop.columns[0].primary_key:
            return None
        after = state.dict.get(name, NO_VALUE)
        if after is NO_VALUE:
            return None
        if before is not NO_VALUE and before == after and not isinstance(after, dict | list):
            continue  # set back to what it was: the flush writes nothing either
        changes[f"new_{prop.columns[0].key}"] = after
    return changes


def _foreign_key_order(metadata: MetaData) -> dict[Table, int]:
    """Each table's place in foreign-key order, sorted once per set of tables (sorting them all
    again for every request cost more than the inserts' own statements)."""
    known: tuple[int, dict[Table, int]] | None = _ORDERS.get(id(metadata))
    if known is None or known[0] != len(metadata.tables):
        known = (len(metadata.tables), {table: index for index, table in enumerate(metadata.sorted_tables)})
        _ORDERS[id(metadata)] = known
    return known[1]


_ORDERS: dict[int, tuple[int, dict[Table, int]]] = {}


@cache
def _scalar_defaults(mapper: Mapper[Any]) -> dict[str, Any]:
    """The mapped columns' plain Python defaults (``default=""``), by attribute, found once per
    mapper."""
    known: dict[str, Any] = {}
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        default = getattr(column, "default", None)
        if default is not None and default.is_scalar and prop.key == column.key:
            known[prop.key] = default.arg
    return known


def _take_kept(session: Session) -> list[tuple[Mapper[Any], dict[str, Any]]]:
    kept: _KeptAsValues | None = session.info.get(AS_VALUES)
    if kept is None:
        return []
    rows, kept.rows = kept.rows, []
    return rows


_MAPPERS: dict[type[Any], Mapper[Any]] = {}


def _mapper_of(row_class: type[Any]) -> Mapper[Any]:
    mapper = _MAPPERS.get(row_class)
    if mapper is None:
        mapper = _MAPPERS[row_class] = inspect(row_class)
    return mapper


def _table_of(mapper: Mapper[Any]) -> Table:
    table = mapper.local_table
    assert isinstance(table, Table), f"{mapper} is not mapped to one table"
    return table


@cache
def _column_keys(mapper: Mapper[Any]) -> dict[str, str]:
    """Each mapped column's attribute name and its column's key, found once per mapper."""
    return {prop.key: prop.columns[0].key for prop in mapper.column_attrs if prop.columns[0].key is not None}


def _given_values(mapper: Mapper[Any], given: dict[str, Any]) -> dict[str, Any]:
    """A kept row's column values, as :func:`_values` gives an object's: by column, with the plain
    Python defaults of the columns not given, and without an id left to the database."""
    keys = _column_keys(mapper)
    values = {keys[name]: value for name, value in given.items()}
    for key, default in _scalar_defaults(mapper).items():
        values.setdefault(key, default)
    if values.get("id", 0) is None:
        del values["id"]
    return values


def _values(mapper: Mapper[Any], row: Any) -> dict[str, Any]:
    """The row's column values as the flush would write them: the attributes set on it (an id
    left to the database is left out), and the foreign keys its many-to-one relationships name (a
    journal line's entry)."""
    state = row.__dict__
    values = {column: state[name] for name, column in _column_keys(mapper).items() if name in state}
    for key, default in _scalar_defaults(mapper).items():
        if key not in values:
            # Written, and set on the row, as the flush does: a caller reading the row after the
            # commit (a new ticket's ``breached``) sees the value stored, not None.
            values[key] = state[key] = default
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
