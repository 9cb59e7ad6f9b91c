"""The end of a write step in one statement on PostgreSQL: its changed rows and its new rows.

A refund request ends with an order's new refunded total and eight tables' new rows (its ticket,
timeline, messages, refund, journal entry and lines, outbox). Written as an UPDATE and one INSERT
per table (:mod:`kameng.platform.db.bulk`), they cost nine round trips, nine statements for
PostgreSQL to parse, plan and run, and nine executions for SQLAlchemy to prepare: the larger part
of the request's cost once its reads were cut (docs/performance.md). Here they go as one
data-modifying ``WITH``:

    WITH changed_0 AS (UPDATE orders SET ... WHERE id = ... AND user_id = ... RETURNING id),
         new_1 AS (INSERT INTO tickets ... VALUES (...)),
         new_2 AS (INSERT INTO ticket_timeline ... VALUES (...), (...)), ...
    SELECT (SELECT count(*) FROM changed_0)

The same rows with the same values, in the same transaction. PostgreSQL checks the foreign keys of
all of them at the end of the statement, so a timeline row finds the ticket written beside it. The
count of each UPDATE says, as the flush would, whether the row was still there (StaleDataError).
An UPDATE names the row's owner too when the table has one (``user_id``): with consumer tables
distributed by owner (docs/scaling.md), the whole statement then stays on one node.

The statement is built once for each shape of step (which tables, which columns, how many rows) and
its text is the same each time, so psycopg prepares it on the connection after a few runs and
PostgreSQL no longer parses or plans it. A step whose shape does not fit (several rows of one
table changed, more rows than :data:`MOST_ROWS`, a column left to a Python default) and SQLite are
written as :mod:`bulk` writes them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from functools import lru_cache
from typing import Any

from psycopg import RawCursor
from sqlalchemy import (
    JSON,
    Connection,
    Dialect,
    Null,
    Row,
    Select,
    Table,
    bindparam,
    func,
    insert,
    literal_column,
    select,
    update,
)
from sqlalchemy.engine.default import DefaultDialect
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from kameng.platform.db.bulk import (
    KEY,
    Changes,
    NewRows,
    changed_rows,
    in_foreign_key_order,
    insert_rows,
    mark_written,
    take_new_rows,
    write_changes,
)
from kameng.platform.db.json_text import json_text

# More rows than this (a mass refund's batch) go as bulk writes them: one statement text per
# count would fill the statement cache, and a few round trips are nothing beside that many rows.
MOST_ROWS = 64
# The owner column a consumer-owned table carries (kameng.schema.PLACEMENT).
OWNER = "user_id"
_NEW_OWNER = f"new_{OWNER}"  # a change of the owner itself (bulk.changed_rows names changes new_<column>)

# (table, its columns in order, how many rows) for each INSERT; (table, changed columns, whether
# the owner is named) for each UPDATE.
InsertShape = tuple[Table, tuple[str, ...], int]
UpdateShape = tuple[Table, tuple[str, ...], bool]


def write_step_end(session: Session, tables: Collection[str], server_ids: Collection[str] = ()) -> None:
    """Write the session's changed rows (:func:`bulk.write_changes`) and its new rows of ``tables``
    (:func:`bulk.write_new_rows`), in one statement on PostgreSQL when the step's shape allows."""
    changes = changed_rows(session)
    taken = take_new_rows(session, tables, server_ids)
    if taken is None:  # a row without an id drawn ahead: the flush writes the new rows
        write_changes(session)
        return
    shaped = _shape(session, changes, taken)
    if shaped is None:
        write_changes(session)
        session.flush()
        insert_rows(session, taken)
        return
    (inserts, updates), values = shaped
    for rows in changes.values():
        mark_written(session, rows)  # before the flush, so that it does not write them again
    session.flush()  # whatever else the step changed, and the rows these name
    connection = session.connection()
    text, order, processors = _compiled(inserts, updates, connection.dialect)
    params = [values[index] for index in order]
    for position, process in processors:
        params[position] = process(params[position])
    counts = _run_as_written(connection, text, tuple(params))
    for (table, _, _), count in zip(updates, counts[: len(updates)], strict=True):
        if count != 1:
            raise StaleDataError(f"UPDATE of {table.name} matched {count} rows of 1")


def _shape(
    session: Session, changes: Changes, taken: NewRows
) -> tuple[tuple[tuple[InsertShape, ...], tuple[UpdateShape, ...]], list[Any]] | None:
    """The step's shape and the statement's values, in the order :func:`_value_names` names them;
    or None when the step is not written as one statement. The values are listed, not named: a
    name formatted for each of some 130 values cost more than the values' own conversions."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    values: list[Any] = []
    updates: list[UpdateShape] = []
    for (table, changed), states in changes.items():
        if len(states) != 1:
            return None
        state, changed_values = states[0]
        owner = state.dict.get(OWNER) if OWNER in table.c and _NEW_OWNER not in changed else None
        columns = tuple(sorted(changed))
        updates.append((table, columns, owner is not None))
        values.extend([changed_values[name] for name in columns])
        if owner is not None:
            values.append(owner)
    inserts: list[InsertShape] = []
    count = 0
    for table in in_foreign_key_order(taken):
        for column_set, rows in taken[table].items():
            in_order = _columns_if_foldable(table, column_set)
            if in_order is None:
                return None
            count += len(rows)
            if count > MOST_ROWS:
                return None
            inserts.append((table, in_order, len(rows)))
            for row in rows:
                values.extend([row[name] for name in in_order])
    if not inserts and not updates:
        return None
    return (tuple(inserts), tuple(updates)), values


def _value_names(inserts: tuple[InsertShape, ...], updates: tuple[UpdateShape, ...]) -> list[str]:
    """The statement's bound parameters' names (:func:`_statement`), in the order :func:`_shape`
    lists their values."""
    names: list[str] = []
    for index, (_, columns, names_owner) in enumerate(updates):
        names.extend(f"u{index}_{name}" for name in columns)
        if names_owner:
            names.append(f"u{index}_owner")
    for index, (_, columns, rows) in enumerate(inserts):
        names.extend(f"n{index}_{number}_{name}" for number in range(rows) for name in columns)
    return names


@lru_cache(maxsize=256)
def _columns_if_foldable(table: Table, column_set: frozenset[str]) -> tuple[str, ...] | None:
    """The columns in a fixed order, or None when a column left out has a default computed in
    Python (the statement would not compute it). Found once per table and set of columns, not
    on every request."""
    left_out = (column.default for column in table.columns if column.key not in column_set)
    if any(default is not None and not (default.is_sequence or default.is_clause_element) for default in left_out):
        return None
    return tuple(sorted(column_set))


@lru_cache(maxsize=256)
def _compiled(
    inserts: tuple[InsertShape, ...], updates: tuple[UpdateShape, ...], dialect: Dialect
) -> tuple[str, tuple[int, ...], tuple[tuple[int, Callable[[Any], Any]], ...]]:
    """The statement's text with PostgreSQL's own placeholders ($1, $2, …); for each placeholder
    in turn, where its value is in :func:`_shape`'s list; and the placeholders' conversions (JSON,
    enums, times) by place. Once per shape: SQLAlchemy cannot cache a statement holding DML in a
    WITH (it has no cache key), so executing it through Core compiled it again on every run, which
    cost more than the round trips it saves."""
    statement = _statement(inserts, updates)
    assert isinstance(dialect, DefaultDialect)
    compiled = statement.compile(dialect=type(dialect)(paramstyle="numeric_dollar"))
    assert compiled.positiontup is not None
    listed = {name: index for index, name in enumerate(_value_names(inserts, updates))}
    order = tuple(listed[name] for name in compiled.positiontup)
    processors = []
    for position, name in enumerate(compiled.positiontup):
        kind = compiled.binds[name].type
        process = _json_text(kind) if isinstance(kind, JSON) else kind.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((position, process))
    return compiled.string, order, tuple(processors)


def _json_text(kind: JSON) -> Callable[[Any], Any]:
    """A JSON column's value as the text the engine's own conversion gives it (:func:`json_text`,
    JSON ``null`` for None unless the column stores None as SQL NULL), but as plain text: the
    statement is prepared, and PostgreSQL reads a text of unknown type in a JSON column's place as
    JSON. SQLAlchemy's conversion for psycopg wraps each value for psycopg's JSON adapter instead,
    which then encodes it: twelve wrappers and adapter calls a request, for the same text."""
    none_as_null = kind.none_as_null

    def text(value: Any) -> str | None:
        if value is JSON.NULL:
            value = None
        elif isinstance(value, Null) or (value is None and none_as_null):
            return None
        return json_text(value)

    return text


def _run_as_written(connection: Connection, text: str, params: tuple[Any, ...]) -> Row[Any]:
    """Run ``text`` (placeholders $1, $2, …) through psycopg's raw cursor, which sends it as it
    is. psycopg's ordinary cursor rewrites ``%(name)s`` placeholders into those on every run, and
    caches the rewrite only for statements of at most 50 parameters: for a refund request's
    130 that rewrite was a tenth of the API's CPU. Through ``exec_driver_sql``, so that the
    engine's events see the statement as they see every other."""
    driver = connection.connection.dbapi_connection
    assert driver is not None
    usual = driver.cursor_factory
    driver.cursor_factory = RawCursor
    try:
        return connection.exec_driver_sql(text, params).one()
    finally:
        driver.cursor_factory = usual


def _statement(inserts: tuple[InsertShape, ...], updates: tuple[UpdateShape, ...]) -> Select[Any]:
    """The one statement of a step of this shape, built once (bound parameters named by place:
    ``n<insert>_<row>_<column>``, ``u<update>_<column>``)."""
    counts = []
    for index, (table, columns, names_owner) in enumerate(updates):
        key = table.primary_key.columns[0]
        where = key == bindparam(f"u{index}_{KEY}", type_=key.type)
        if names_owner:
            where = where & (table.c[OWNER] == bindparam(f"u{index}_owner", type_=table.c[OWNER].type))
        changed_columns = {name: table.c[name.removeprefix("new_")] for name in columns if name != KEY}
        new = {column: bindparam(f"u{index}_{name}", type_=column.type) for name, column in changed_columns.items()}
        changed = update(table).where(where).values(new).returning(key).cte(f"changed_{index}")
        counts.append(select(func.count()).select_from(changed).scalar_subquery())
    written = []
    for index, (table, columns, rows) in enumerate(inserts):
        values = [
            {name: bindparam(f"n{index}_{number}_{name}", type_=table.c[name].type) for name in columns}
            for number in range(rows)
        ]
        written.append(insert(table).values(values).cte(f"new_{index}"))
    statement: Select[Any] = select(*counts) if counts else select(literal_column("0"))
    return statement.add_cte(*written)
