"""A transaction that only read ends in a commit, not a rollback (PostgreSQL).

psycopg forgets every statement it has prepared on a connection at each ``ROLLBACK`` (and sends a
``DEALLOCATE ALL`` after it), and prepares a statement again only after its fifth run. Every
request that only reads (a page, an order's detail, the bearer token's look-up) ended its
transaction in a rollback, so in mixed traffic a refund request that followed a page view on the
same pooled connection ran its statements unprepared again: parsed and planned each time.

A transaction that ran nothing but ``SELECT``\\ s has nothing to keep and nothing to undo: a
``COMMIT`` ends it as a rollback would, and costs PostgreSQL no more (no transaction id was taken,
no WAL is written). So the engine notes, for each connection's transaction, whether any other
statement ran (:func:`watch_writes`), and the unit of work ends a transaction that only read with a
commit (:func:`only_read`). "No commit, no write" still holds: a transaction that ran any other
statement, or holds ORM changes not yet flushed, is rolled back as before. A ``SELECT … FOR
UPDATE`` counts as a read: its locks end with the transaction either way.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

# In the DBAPI connection's info: False once its transaction began, True after any statement that
# is not a SELECT. Absent (an engine not watched: SQLite, where a rollback loses nothing), the
# transaction counts as one that wrote.
WROTE = "kameng.db.wrote"
_A_READ = re.compile(r"\s*SELECT\b", re.IGNORECASE)


def watch_writes(engine: Engine) -> None:
    """Note on each connection whether its transaction ran anything but SELECTs."""

    @event.listens_for(engine, "begin")
    def _began(connection: Connection) -> None:
        connection.info[WROTE] = False

    @event.listens_for(engine, "before_cursor_execute")
    def _ran(connection: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if connection.info.get(WROTE) is False and not _A_READ.match(statement):
            connection.info[WROTE] = True


def only_read(session: Session) -> bool:
    """Whether ``session``'s open transaction ran only SELECTs and holds no change of its own."""
    transaction = session.get_transaction()
    if transaction is None or not transaction.is_active or session.new or session.dirty or session.deleted:
        return False
    return session.connection().info.get(WROTE, True) is False
